//! What both Lambda binaries do around their handlers, written once.
//!
//! The scale-up and scale-down functions differ in what they handle, not in how they run: both
//! set up logs the way Lambda's logging controls ask ([`logs`]), stop starting work a margin
//! before the invocation's deadline ([`deadline`]), report a failure to Lambda labelled
//! retryable or not by the reconciler's one error policy ([`InvocationError`]), count the AWS
//! calls a decision cost ([`AwsCalls`]) and print their decision records as CloudWatch Embedded
//! Metric Format documents ([`emf`]). Keeping these here means the two functions cannot drift
//! apart on any of them.

mod calls;
mod deadline;
pub mod emf;
mod error;
pub mod logs;

pub use calls::AwsCalls;
pub use deadline::{deadline, deadline_at};
pub use error::{Function, InvocationError};
