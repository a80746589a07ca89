//! State that a harness's server threads and its callers share: the state behind a mutex, a
//! condition variable rung on every change, and a shutdown flag. Waits wake at least every
//! [`TICK`] so that a blocked thread notices the shutdown flag or a child that exited.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How often blocked threads look at the shutdown flag (and whatever else they poll).
pub(crate) const TICK: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
pub(crate) struct Shared<S> {
    state: Mutex<S>,
    changed: Condvar,
    shutdown: AtomicBool,
}

impl<S> Shared<S> {
    pub(crate) fn new(state: S) -> Self {
        Shared { state: Mutex::new(state), changed: Condvar::new(), shutdown: AtomicBool::new(false) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, S> {
        // A panicking test thread must not hide what the others recorded.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a change, or [`TICK`] at most.
    pub(crate) fn wait<'a>(&self, guard: MutexGuard<'a, S>) -> MutexGuard<'a, S> {
        self.changed.wait_timeout(guard, TICK).unwrap_or_else(PoisonError::into_inner).0
    }

    /// Wakes every waiting thread: the state changed.
    pub(crate) fn notify(&self) {
        self.changed.notify_all();
    }

    pub(crate) fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }

    /// Asks every thread to stop, and wakes them to see it.
    pub(crate) fn stop(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
        self.notify();
    }
}
