//! Log set-up, the one `lambda_runtime` provides, so Lambda's advanced logging controls apply.
//!
//! `lambda_runtime::tracing::init_default_subscriber` reads `AWS_LAMBDA_LOG_FORMAT` (`JSON`:
//! one JSON object per `tracing` event, with `level` and `fields.message`; anything else: text)
//! and `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` (a `tracing` env filter), else `INFO`. It prints
//! no timestamp: CloudWatch Logs stamps every line itself.
//!
//! The functions are meant to log JSON: the deployed stack sets `LoggingConfig.LogFormat: JSON`
//! (`infra/template.yaml`), whereupon Lambda sets `AWS_LAMBDA_LOG_FORMAT=JSON`, and the
//! emulator harness (`tests/src/lambda.rs`) sets the same variable when it starts a binary. We do
//! not second-guess the variable here: it is the documented switch, and honouring it keeps a
//! function configured for text readable as text. The decision records do not depend on it:
//! they are EMF documents printed as JSON lines on stdout whatever the format (see [`crate::emf`]).

/// Sends `tracing` events to stdout as Lambda's logging configuration asks. Once, at start-up.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}
