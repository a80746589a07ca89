//! The error Lambda sees when an invocation fails, labelled retryable or not.
//!
//! Lambda's asynchronous invocation retries a failed event and, once retries are exhausted,
//! sends it to the dead-letter queue; the `errorType` is what an operator (and the dead-letter
//! alarm's runbook) reads first. The label comes from the reconciler's one error policy,
//! [`reconciler::ReconcileError::is_retryable`], so both functions answer "will trying again
//! help?" the same way: `ScaleUpRetryable` / `ScaleUpFailed`, `ScaleDownRetryable` /
//! `ScaleDownFailed`.

use lambda_runtime::Diagnostic;
use reconciler::ReconcileError;

/// Which function failed: the prefix of the error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    ScaleUp,
    ScaleDown,
}

impl Function {
    fn as_str(self) -> &'static str {
        match self {
            Function::ScaleUp => "ScaleUp",
            Function::ScaleDown => "ScaleDown",
        }
    }
}

/// A failed invocation: one or more reconcile errors, retryable only if every one of them is.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct InvocationError {
    function: Function,
    retryable: bool,
    /// The errors' messages, `; `-separated (each already names its call and stream).
    message: String,
}

impl InvocationError {
    /// The failure of `function` made of `errors` (at least one).
    pub fn new<'e>(function: Function, errors: impl IntoIterator<Item = &'e ReconcileError>) -> Self {
        let (mut retryable, mut messages) = (true, Vec::new());
        for error in errors {
            retryable &= error.is_retryable();
            messages.push(error.to_string());
        }
        InvocationError { function, retryable, message: messages.join("; ") }
    }

    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The `errorType` Lambda records: the function, then `Retryable` or `Failed`.
    pub fn error_type(&self) -> String {
        let outcome = if self.retryable { "Retryable" } else { "Failed" };
        format!("{}{outcome}", self.function.as_str())
    }
}

impl From<InvocationError> for Diagnostic {
    fn from(e: InvocationError) -> Diagnostic {
        Diagnostic { error_type: e.error_type(), error_message: e.message }
    }
}

#[cfg(test)]
mod tests {
    use reconciler::{ErrorKind, PortError};

    use super::*;

    fn port(kind: ErrorKind) -> ReconcileError {
        PortError::new("SplitShard", kind, "x").with_stream("orders").into()
    }

    #[test]
    fn both_functions_label_failures_retryable_only_when_every_error_is() {
        let throttled = port(ErrorKind::Throttled);
        let denied = port(ErrorKind::AccessDenied);
        let up = Diagnostic::from(InvocationError::new(Function::ScaleUp, [&throttled]));
        assert_eq!(up.error_type, "ScaleUpRetryable");
        let down = Diagnostic::from(InvocationError::new(Function::ScaleDown, [&throttled, &denied]));
        assert_eq!(down.error_type, "ScaleDownFailed");
        assert_eq!(
            down.error_message,
            r#"SplitShard on stream "orders" failed (throttled): x; SplitShard on stream "orders" failed (access denied): x"#
        );
    }
}
