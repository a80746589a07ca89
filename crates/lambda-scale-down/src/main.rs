//! The scale-down Lambda: on a schedule (`rate(36 hours)` by default), merge the cold shards of
//! every managed stream.
//!
//! Thin: JSON logs, SDK clients built once at init, then each invocation runs one sweep
//! ([`reconciler::scale_down::sweep`]) from where the previous one stopped. Configuration:
//!
//! * `DRY_RUN=true` logs every decision and changes nothing;
//! * `CONTINUATION_TOPIC_ARN`: an SNS topic this function is subscribed to; when the deadline
//!   stops a sweep, it publishes `{"after": "<last stream done>", "depth": n}` there and the next
//!   invocation continues after that stream;
//! * `MAX_CONTINUATIONS` (default 20) bounds the chain, so a bug cannot loop forever;
//! * `STREAM_NAME_PREFIX` (default: none) sweeps only the streams whose names start with it, the
//!   same scope as the deployment's IAM policy (`infra/`).

mod handler;

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_shell::logs::init();
    let config = aws_adapters::load_config(None, None, None).await;
    let clients = aws_adapters::AwsClients::new(&config);
    clients.warm_up().await;
    let config = handler::Config::from_env()?;
    let calls = lambda_shell::AwsCalls::new({
        let clients = clients.clone();
        move || clients.requests_sent()
    });
    let handler =
        handler::Handler::new(clients.streams(), clients.cloudwatch(), clients.topics(), calls, config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<handler::Event>| handler.handle(event))).await
}
