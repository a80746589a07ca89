//! The stack in virtual time: the two functions of `infra/template.yaml` running the
//! reconciler's own flows on the simulated AWS, woken as AWS wakes them.
//!
//! * The alarm topic delivers each alarm notification to the scale-up function, one invocation
//!   per message (SNS → Lambda), which parses it and runs [`scale_up::handle`], as the Lambda's
//!   handler does for each record.
//! * `ResyncSchedule` (every 5 minutes) runs [`scale_up::resync`]; `PredictRule` (every hour)
//!   runs [`predict::pass`]; `SweepSchedule` (every 36 hours) runs [`scale_down::sweep`], and
//!   hands on through the continuation topic while [`scale_down::continuation`] says so.
//! * Each invocation gets a fresh [`Context`] over the world, with the function's deadline (its
//!   timeout less the handler's margin), the executor's pacing, the deployment's scope and its
//!   own seeded jitter: what the Lambdas' handlers build.
//!
//! Invocations run concurrently, as Lambda runs them: each is a future polled when the virtual
//! time it waits for comes ([`VirtualClock`]). [`Deployment::run_until`] moves time on to each
//! instant something happens (a sleeper's wake, a delivery, a schedule, CloudWatch's evaluation
//! on the minute) and handles it, so a week of traffic costs only its events.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reconciler::alarm_message::AlarmMessage;
use reconciler::predict::{self, PredictReport, PredictSettings};
use reconciler::scale_down::{self, Start, SweepReport, SweepSettings};
use reconciler::scale_up::{self, Record};
use reconciler::{Context, ContinuationPort, ExecuteSettings, IoPolicy, Scope, SeededJitter};

use crate::clock::VirtualClock;
use crate::world::World;

/// How the stack is deployed: what the template's parameters and the functions' environment say.
#[derive(Debug, Clone)]
pub struct Config {
    /// The alarm topic the stream's alarms notify (their `AlarmActions`).
    pub alarm_topic: String,
    /// The scale-down function's continuation topic.
    pub continuation_topic: String,
    /// `STREAM_NAME_PREFIX`, the account and the region.
    pub scope: Scope,
    pub execute: ExecuteSettings,
    pub sweep: SweepSettings,
    pub predict: PredictSettings,
    /// `ScaleUpTimeout` and `ScaleDownTimeout`.
    pub scale_up_timeout: Duration,
    pub scale_down_timeout: Duration,
    /// `ResyncSchedule`, `PredictRule` and `SweepSchedule`; `None` turns one off.
    pub resync_schedule: Option<Schedule>,
    pub predict_schedule: Option<Schedule>,
    pub sweep_schedule: Option<Schedule>,
    /// `MAX_CONTINUATIONS`.
    pub max_continuations: u32,
    /// Seeds each invocation's jitter.
    pub seed: u64,
}

impl Config {
    /// The template's defaults, for the streams of `scope`, with the alarm topic's ARN in its
    /// account and region.
    pub fn stack(scope: Scope) -> Config {
        let topic = |name: &str| format!("arn:aws:sns:{}:{}:{name}", scope.region, scope.account);
        Config {
            alarm_topic: topic("kinesis-autoscaler-alarms"),
            continuation_topic: topic("kinesis-autoscaler-continuation"),
            scope,
            execute: ExecuteSettings::default(),
            sweep: SweepSettings::default(),
            predict: PredictSettings::default(),
            scale_up_timeout: Duration::from_secs(300),
            scale_down_timeout: Duration::from_secs(900),
            resync_schedule: Some(Schedule::every(Duration::from_secs(300))),
            predict_schedule: Some(Schedule::every(Duration::from_secs(3_600))),
            sweep_schedule: Some(Schedule::every(Duration::from_secs(36 * 3_600))),
            max_continuations: scale_down::MAX_CONTINUATIONS,
            seed: 1,
        }
    }
}

/// An EventBridge rate rule: first `first` after the deployment, then every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub first: Duration,
    pub every: Duration,
}

impl Schedule {
    /// `rate(every)`, first one period after the rule is created.
    pub fn every(every: Duration) -> Schedule {
        Schedule { first: every, every }
    }
}

/// What one invocation did, as its decision lines say it.
#[derive(Debug)]
pub enum Event {
    /// A scale-up decision, for a delivered alarm or by the resync.
    ScaleUp {
        at: DateTime<Utc>,
        record: Record,
    },
    /// A scale-up that failed (the Lambda reports it; async invocation retries it).
    ScaleUpFailed {
        at: DateTime<Utc>,
        alarm: String,
        error: String,
    },
    /// A delivery that is not an alarm notification.
    Malformed {
        at: DateTime<Utc>,
        error: String,
    },
    Sweep {
        at: DateTime<Utc>,
        report: SweepReport,
    },
    Predict {
        at: DateTime<Utc>,
        report: PredictReport,
    },
    /// A sweep or a predictive pass that failed as a whole.
    Failed {
        at: DateTime<Utc>,
        task: &'static str,
        error: String,
    },
}

type Invocation = Pin<Box<dyn Future<Output = ()> + Send>>;

fn span(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The stack deployed on a world whose clock is `clock`.
pub struct Deployment {
    world: World,
    clock: Arc<VirtualClock>,
    config: Config,
    running: Vec<Invocation>,
    events: Arc<Mutex<Vec<Event>>>,
    /// When each schedule fires next: resync, predict, sweep.
    next: [Option<DateTime<Utc>>; 3],
    /// Invocations started so far: each one's jitter seed.
    invocations: u64,
    /// Nothing is due before this (recomputed after each step).
    quiet_until: DateTime<Utc>,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("config", &self.config)
            .field("running", &self.running.len())
            .finish()
    }
}

impl Deployment {
    /// Deploys on `world`, whose clock must be `clock`; each schedule first fires its `first`
    /// from now.
    pub fn new(world: World, clock: Arc<VirtualClock>, config: Config) -> Deployment {
        let now = world.now();
        let first = |s: Option<Schedule>| s.map(|s| now + span(s.first));
        Deployment {
            next: [
                first(config.resync_schedule),
                first(config.predict_schedule),
                first(config.sweep_schedule),
            ],
            world,
            clock,
            config,
            running: Vec::new(),
            events: Arc::new(Mutex::new(Vec::new())),
            invocations: 0,
            quiet_until: now,
        }
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Nothing happens before this: a driver that moves time on in steps may skip to it.
    pub fn quiet_until(&self) -> DateTime<Utc> {
        self.quiet_until
    }

    /// Invocations still running.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// What the invocations did since the last call, in the order it happened.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().expect("not poisoned"))
    }

    /// Moves time on to `to`, handling everything that happens on the way, at its time.
    pub fn run_until(&mut self, to: DateTime<Utc>) {
        if to < self.quiet_until {
            return;
        }
        loop {
            let next = self.next_event();
            let step = next.filter(|t| *t <= to).unwrap_or(to);
            self.clock.advance_to(step);
            self.world.advance_to(step);
            self.start_due(step);
            self.poll();
            if next.is_none_or(|t| t > to) {
                self.quiet_until = self.next_event().unwrap_or(DateTime::<Utc>::MAX_UTC);
                return;
            }
        }
    }

    /// Runs until `to`, then until every invocation still running has finished.
    pub fn settle(&mut self, to: DateTime<Utc>) {
        self.run_until(to);
        while !self.running.is_empty() {
            match self.clock.next_wake() {
                Some(at) => self.run_until(at),
                None => {
                    self.poll();
                    break;
                }
            }
        }
    }

    /// The next instant something happens: a sleeper wakes, a delivery falls due, a schedule
    /// fires, or CloudWatch evaluates its alarms (each minute).
    fn next_event(&self) -> Option<DateTime<Utc>> {
        let now = self.world.now();
        let next_minute = DateTime::from_timestamp((now.timestamp().div_euclid(60) + 1) * 60, 0);
        [
            self.clock.next_wake(),
            self.world.next_delivery(),
            self.next[0],
            self.next[1],
            self.next[2],
            next_minute,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|t| t.max(now))
    }

    fn start_due(&mut self, now: DateTime<Utc>) {
        for delivery in self.world.take_deliveries(&self.config.alarm_topic) {
            let invocation = self.scale_up(delivery.message, now);
            self.running.push(invocation);
        }
        for delivery in self.world.take_deliveries(&self.config.continuation_topic.clone()) {
            let start = serde_json::from_str(&delivery.message).unwrap_or_default();
            let invocation = self.sweep(start, now);
            self.running.push(invocation);
        }
        let config = &self.config;
        let schedules = [config.resync_schedule, config.predict_schedule, config.sweep_schedule];
        for (i, schedule) in schedules.into_iter().enumerate() {
            let (Some(at), Some(schedule)) = (self.next[i].filter(|at| *at <= now), schedule) else {
                continue;
            };
            self.next[i] = Some(at + span(schedule.every));
            let invocation = match i {
                0 => self.resync(now),
                1 => self.predict(now),
                _ => self.sweep(Start::default(), now),
            };
            self.running.push(invocation);
        }
    }

    /// Polls every invocation once (each runs until it waits on the clock), dropping the
    /// finished ones.
    fn poll(&mut self) {
        let mut cx = TaskContext::from_waker(Waker::noop());
        self.running.retain_mut(|invocation| invocation.as_mut().poll(&mut cx) == Poll::Pending);
    }

    /// A context as a function's handler builds it for one invocation at `now`.
    fn context(&mut self, now: DateTime<Utc>, timeout: Duration, margin: Duration) -> Context<World, World> {
        self.invocations += 1;
        let deadline = now + span(timeout.saturating_sub(margin));
        let seed = self.config.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ self.invocations;
        let io = IoPolicy::new(self.clock.clone())
            .until(deadline)
            .backoff(self.config.execute.backoff)
            .jitter(SeededJitter::new(seed));
        Context::new(self.world.clone(), self.world.clone(), io)
            .with_scope(self.config.scope.clone())
            .with_execute(self.config.execute.clone())
    }

    fn scale_up(&mut self, message: String, now: DateTime<Utc>) -> Invocation {
        let cx = self.context(now, self.config.scale_up_timeout, scale_up::DEADLINE_MARGIN);
        let events = self.events.clone();
        Box::pin(async move {
            let event = match AlarmMessage::parse(&message) {
                Err(e) => Event::Malformed { at: cx.now(), error: e.to_string() },
                Ok(message) => match scale_up::handle(&cx, &message).await {
                    Ok(record) => Event::ScaleUp { at: cx.now(), record },
                    Err(e) => {
                        Event::ScaleUpFailed { at: cx.now(), alarm: message.name, error: e.to_string() }
                    }
                },
            };
            events.lock().expect("not poisoned").push(event);
        })
    }

    fn resync(&mut self, now: DateTime<Utc>) -> Invocation {
        let cx = self.context(now, self.config.scale_up_timeout, scale_up::DEADLINE_MARGIN);
        let events = self.events.clone();
        Box::pin(async move {
            let listed = scale_up::resync(&cx, |alarm, result| {
                let event = match result {
                    Ok(record) => Event::ScaleUp { at: cx.now(), record },
                    Err(e) => {
                        Event::ScaleUpFailed { at: cx.now(), alarm: alarm.name.clone(), error: e.to_string() }
                    }
                };
                events.lock().expect("not poisoned").push(event);
            })
            .await;
            if let Err(e) = listed {
                let event = Event::Failed { at: cx.now(), task: "resync", error: e.to_string() };
                events.lock().expect("not poisoned").push(event);
            }
        })
    }

    fn predict(&mut self, now: DateTime<Utc>) -> Invocation {
        let cx = self.context(now, self.config.scale_up_timeout, scale_up::DEADLINE_MARGIN);
        let (events, settings) = (self.events.clone(), self.config.predict.clone());
        Box::pin(async move {
            let event = match predict::pass(&cx, &settings).await {
                Ok(report) => Event::Predict { at: cx.now(), report },
                Err(e) => Event::Failed { at: cx.now(), task: "predict", error: e.to_string() },
            };
            events.lock().expect("not poisoned").push(event);
        })
    }

    fn sweep(&mut self, start: Start, now: DateTime<Utc>) -> Invocation {
        let cx = self.context(now, self.config.scale_down_timeout, scale_down::DEADLINE_MARGIN);
        let (events, settings) = (self.events.clone(), self.config.sweep.clone());
        let (topic, max) = (self.config.continuation_topic.clone(), self.config.max_continuations);
        let world = self.world.clone();
        Box::pin(async move {
            let event = match scale_down::sweep(&cx, &settings, start.after.as_deref()).await {
                Ok(report) => {
                    if let scale_down::HandOn::Next(next) = scale_down::continuation(&start, &report, max) {
                        let message = serde_json::to_string(&next).expect("a Start serialises");
                        if let Err(e) = cx.io(&world).publish(&topic, &message).await {
                            let event =
                                Event::Failed { at: cx.now(), task: "continuation", error: e.to_string() };
                            events.lock().expect("not poisoned").push(event);
                        }
                    }
                    Event::Sweep { at: cx.now(), report }
                }
                Err(e) => Event::Failed { at: cx.now(), task: "sweep", error: e.to_string() },
            };
            events.lock().expect("not poisoned").push(event);
        })
    }
}
