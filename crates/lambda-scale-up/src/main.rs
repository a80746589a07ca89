//! The scale-up Lambda: CloudWatch alarm → SNS → this function → split hot shards → re-arm; and
//! every few minutes (the `ResyncSchedule` rule) the same for every alarm still in `ALARM`.
//!
//! Thin on purpose: `main` sets up JSON logs, builds the SDK clients once (outside the handler,
//! so connections are reused across invocations), warms the TLS connections during init, and
//! hands each event (SNS or the schedule's) to [`handler::Handler`]. The decisions live in `planner`, their execution
//! in `reconciler`. `STREAM_NAME_PREFIX` (default: none) limits it to the streams whose names
//! start with it, the same scope as the deployment's IAM policy (`infra/`).
//! `PREDICT_PERIOD_SECONDS` (default 300) is the predictive pass's history period: whole minutes
//! up to an hour that divide a day; anything else stops the function at start, before any event.

mod decision;
mod handler;

use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_shell::logs::init();
    // The standard chain: the function's role credentials, AWS_REGION, AWS_ENDPOINT_URL if set.
    let config = aws_adapters::load_config(None, None, None).await;
    let region = config.region().map(ToString::to_string).ok_or("AWS_REGION is not set")?;
    let clients = aws_adapters::AwsClients::new(&config);
    clients.warm_up().await;
    let prefix = std::env::var("STREAM_NAME_PREFIX").unwrap_or_default();
    let calls = lambda_shell::AwsCalls::new({
        let clients = clients.clone();
        move || clients.requests_sent()
    });
    let period = match std::env::var("PREDICT_PERIOD_SECONDS") {
        Err(_) => reconciler::predict::PERIOD_SECS,
        Ok(text) => text.parse().ok().filter(|s| reconciler::predict::is_period(*s)).ok_or_else(|| {
            format!("PREDICT_PERIOD_SECONDS={text} is not whole minutes up to 3600 that divide a day")
        })?,
    };
    let handler = handler::Handler::new(clients.streams(), clients.cloudwatch(), calls, region, prefix)
        .with_predict_period(period);
    lambda_runtime::run(service_fn(|event: LambdaEvent<handler::Event>| handler.handle(event))).await
}
