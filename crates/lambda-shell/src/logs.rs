//! Log set-up as Lambda's advanced logging controls ask, the way `lambda_runtime`'s own
//! `init_default_subscriber` does it, without its regex-based `EnvFilter` (a few hundred KB of
//! every zip for filter syntax nobody configures here).
//!
//! `AWS_LAMBDA_LOG_FORMAT` `JSON`: one JSON object per `tracing` event, with `level` and
//! `fields.message`; anything else: text. The level: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else
//! `INFO`. `RUST_LOG` takes `tracing`'s target directives (`info`, `info,reconciler=debug`,
//! `reconciler=trace`): the stack's `LogLevel` parameter. Span and field filters (`[span]=debug`)
//! are not understood: such a value logs at `INFO`. No timestamp: CloudWatch Logs stamps every
//! line itself.
//!
//! The functions are meant to log JSON: the deployed stack sets `LoggingConfig.LogFormat: JSON`
//! (`infra/template.yaml`), whereupon Lambda sets `AWS_LAMBDA_LOG_FORMAT=JSON`, and the
//! emulator harness (`tests/src/lambda.rs`) sets the same variable when it starts a binary. We do
//! not second-guess the variable here: it is the documented switch, and honouring it keeps a
//! function configured for text readable as text. The decision records do not depend on it:
//! they are EMF documents printed as JSON lines on stdout whatever the format (see [`crate::emf`]).

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Sends `tracing` events to stdout as Lambda's logging configuration asks. Once, at start-up.
pub fn init() {
    let var = |name| std::env::var(name).ok();
    let filter = filter(var("AWS_LAMBDA_LOG_LEVEL").as_deref(), var("RUST_LOG").as_deref());
    let layer = fmt::layer().with_target(false).without_time().with_writer(std::io::stdout);
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry();
    if json {
        registry.with(layer.json().with_filter(filter)).init();
    } else {
        registry.with(layer.with_filter(filter)).init();
    }
}

/// `AWS_LAMBDA_LOG_LEVEL` (a level) over `RUST_LOG`'s directives; `INFO` when neither says.
fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let targets = rust_log.and_then(|d| d.parse::<Targets>().ok()).unwrap_or_default();
    let default = lambda_level
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .or(targets.default_level())
        .unwrap_or(LevelFilter::INFO);
    targets.with_default(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(lambda_level: Option<&str>, rust_log: Option<&str>) -> (Option<LevelFilter>, bool, bool) {
        let filter = filter(lambda_level, rust_log);
        let debug_here = filter.would_enable("reconciler::execute", &tracing::Level::DEBUG);
        let debug_elsewhere = filter.would_enable("hyper", &tracing::Level::DEBUG);
        (filter.default_level(), debug_here, debug_elsewhere)
    }

    #[test]
    fn rust_log_directives_set_levels_per_target_and_info_is_the_default() {
        let info = Some(LevelFilter::INFO);
        assert_eq!(levels(None, None), (info, false, false));
        assert_eq!(levels(None, Some("info")), (info, false, false));
        assert_eq!(levels(None, Some("info,reconciler=debug")), (info, true, false));
        assert_eq!(levels(None, Some("debug")), (Some(LevelFilter::DEBUG), true, true));
        assert_eq!(levels(None, Some("[span]=debug")), (info, false, false), "unsupported: INFO");
    }

    #[test]
    fn lambdas_log_level_sets_the_default_over_rust_log() {
        assert_eq!(levels(Some("DEBUG"), Some("info")), (Some(LevelFilter::DEBUG), true, true));
        assert_eq!(
            levels(Some("WARN"), Some("info,reconciler=debug")),
            (Some(LevelFilter::WARN), true, false)
        );
    }
}
