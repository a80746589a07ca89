//! Virtual time: a clock that moves only when the driver moves it, and wakes whoever sleeps on it.
//!
//! The flows wait through [`Clock::sleep_until`] (between retries, while a stream is `UPDATING`),
//! so on this clock a five-minute reshard wait costs nothing: the driver ([`crate::Deployment`],
//! the simulator) advances the clock to the next instant anything happens, wakes the sleepers due
//! by then and polls the invocations in flight. Deterministic: the same inputs give the same
//! order of wake-ups.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use chrono::{DateTime, Utc};
use reconciler::{Clock, Sleep};

/// A clock that reads what the driver last set, and whose sleepers the driver wakes.
#[derive(Debug)]
pub struct VirtualClock {
    /// Nanoseconds since the epoch: read on every call the world answers, so without a lock.
    now: AtomicI64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// When each sleeper wants waking, by its sequence number (earliest first).
    due: BinaryHeap<Reverse<(DateTime<Utc>, u64)>>,
    wakers: BTreeMap<u64, Waker>,
    next: u64,
}

impl VirtualClock {
    pub fn new(origin: DateTime<Utc>) -> Arc<VirtualClock> {
        Arc::new(VirtualClock {
            now: AtomicI64::new(nanos(origin)),
            state: Mutex::new(State { due: BinaryHeap::new(), wakers: BTreeMap::new(), next: 0 }),
        })
    }

    /// The earliest time a sleeper waits for, if any sleeps.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        let mut state = self.state.lock().expect("not poisoned");
        // Sleepers that were dropped (their future completed another way) leave stale entries.
        while let Some(Reverse((_, seq))) = state.due.peek().copied() {
            if state.wakers.contains_key(&seq) {
                break;
            }
            state.due.pop();
        }
        state.due.peek().map(|Reverse((at, _))| *at)
    }

    /// Moves the clock to `to` (never backwards) and wakes every sleeper due by then.
    pub fn advance_to(&self, to: DateTime<Utc>) {
        self.now.fetch_max(nanos(to), Ordering::AcqRel);
        let wake: Vec<Waker> = {
            let mut state = self.state.lock().expect("not poisoned");
            let now = self.now();
            let mut wake = Vec::new();
            while let Some(Reverse((at, seq))) = state.due.peek().copied() {
                if at > now {
                    break;
                }
                state.due.pop();
                wake.extend(state.wakers.remove(&seq));
            }
            wake
        };
        wake.into_iter().for_each(Waker::wake);
    }

    fn register(&self, until: DateTime<Utc>, slot: &mut Option<u64>, waker: &Waker) -> bool {
        let mut state = self.state.lock().expect("not poisoned");
        if self.now() >= until {
            if let Some(seq) = slot.take() {
                state.wakers.remove(&seq);
            }
            return true;
        }
        let seq = *slot.get_or_insert_with(|| {
            state.next += 1;
            state.next
        });
        if state.wakers.insert(seq, waker.clone()).is_none() {
            state.due.push(Reverse((until, seq)));
        }
        false
    }

    fn forget(&self, seq: u64) {
        self.state.lock().expect("not poisoned").wakers.remove(&seq);
    }
}

/// `t` in nanoseconds since the epoch (saturating: virtual time stays within centuries of now).
fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 { i64::MIN } else { i64::MAX })
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.now.load(Ordering::Acquire))
    }

    fn sleep_until(&self, until: DateTime<Utc>) -> Sleep<'_> {
        Box::pin(VirtualSleep { clock: self, until, slot: None })
    }
}

struct VirtualSleep<'a> {
    clock: &'a VirtualClock,
    until: DateTime<Utc>,
    /// The sleeper's sequence number once registered.
    slot: Option<u64>,
}

impl Future for VirtualSleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let (clock, until) = (self.clock, self.until);
        if clock.register(until, &mut self.slot, cx.waker()) { Poll::Ready(()) } else { Poll::Pending }
    }
}

impl Drop for VirtualSleep<'_> {
    fn drop(&mut self) {
        if let Some(seq) = self.slot {
            self.clock.forget(seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::Wake;

    use super::*;

    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_sleeper_wakes_when_the_clock_reaches_its_time_and_not_before() {
        let origin = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = VirtualClock::new(origin);
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut sleep = clock.sleep_until(origin + chrono::Duration::seconds(30));
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        assert_eq!(clock.next_wake(), Some(origin + chrono::Duration::seconds(30)));
        clock.advance_to(origin + chrono::Duration::seconds(29));
        assert!(!flag.0.load(Ordering::SeqCst));
        clock.advance_to(origin + chrono::Duration::seconds(30));
        assert!(flag.0.load(Ordering::SeqCst), "woken at its time");
        assert!(sleep.as_mut().poll(&mut cx).is_ready());
        assert_eq!(clock.next_wake(), None);
    }
}
