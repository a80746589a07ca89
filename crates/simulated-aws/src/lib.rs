//! One simulated AWS: Kinesis, CloudWatch and SNS of one account and region on one clock, behind
//! the reconciler's ports, and the stack that runs the Lambdas' own flows on it.
//!
//! Every test that needs AWS without a network, the soak, and the simulator's rows for this
//! project use this one model, so a behaviour (a reshard's duration, `ResourceInUse`, alarm
//! evaluation, at-least-once delivery) is written and trusted once:
//!
//! * [`World`] is the account: streams whose shards tile the key space and reshard one at a time
//!   ([`kinesis`]), metrics readable after their publication delay and alarms evaluated each
//!   minute that notify on a change to `ALARM` ([`cloudwatch`]), and SNS delivering at least once
//!   ([`sns`]). It implements every port of the reconciler, so a flow runs on it as on AWS.
//! * [`VirtualClock`] is time that moves only when the driver moves it; on it, a flow's waits cost
//!   nothing. Tests that prefer paused `tokio` time give the world a `TokioClock` instead.
//! * [`Deployment`] is `infra/template.yaml`'s stack on the world: the alarm topic invoking the
//!   scale-up function, the resync, the predictive pass and the sweep on their schedules, each
//!   invocation the reconciler's own flow on a fresh context.
//! * [`Model`] is every latency and duration assumed, with its source.
//!
//! Faults are injected per AWS operation ([`World::fail_next`]), as the emulator's fault proxy
//! injects them in front of the real emulator.

mod clock;
pub mod cloudwatch;
mod deployment;
mod history;
pub mod kinesis;
pub mod model;
pub mod sns;
mod world;

pub use clock::VirtualClock;
pub use cloudwatch::{MetricId, MetricKey, UsageAlarm};
pub use deployment::{Config, Deployment, Event, Schedule};
pub use history::{load_history, shuffled};
pub use kinesis::{OpCounts, Stream, accepted_units};
pub use model::Model;
pub use sns::Delivery;
pub use world::World;

/// The answer of a call to a world whose model adds no latency: it completes on its first poll,
/// so code without an async runtime (the simulator's policy models, a test's set-up) can call the
/// ports directly.
///
/// # Panics
/// If the call waits (a model with latency or jitter, which needs a driver).
pub fn answer<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the world's answer waits: its model adds latency"),
    }
}
