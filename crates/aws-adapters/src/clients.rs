//! Building the SDK clients once, from the standard AWS configuration chain.
//!
//! Binaries call [`load_config`] (the same sources and precedence as the AWS CLI: flags, then
//! environment, then profile files, SSO, container/instance credentials) and [`AwsClients::new`]
//! once at start-up; Lambdas do it outside the handler so the clients and their connection pools
//! are reused across invocations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_kinesis::config::Credentials;
use aws_smithy_http_client::tls;

use crate::{CloudWatch, KinesisStreams, SnsTopics};

/// The SDK clients the tool uses, sharing one configuration. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub kinesis: aws_sdk_kinesis::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The scale-down continuation ([`AwsClients::topics`]); the tests and the demo also wire
    /// alarm topics to subscribers with it.
    pub sns: aws_sdk_sns::Client,
    requests: CallCounter,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        let requests = CallCounter::default();
        let kinesis = aws_sdk_kinesis::config::Builder::from(config).interceptor(requests.clone()).build();
        let cloudwatch =
            aws_sdk_cloudwatch::config::Builder::from(config).interceptor(requests.clone()).build();
        AwsClients {
            kinesis: aws_sdk_kinesis::Client::from_conf(kinesis),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch),
            sns: aws_sdk_sns::Client::new(config),
            requests,
        }
    }

    /// HTTP requests sent to Kinesis and CloudWatch so far, retries included: what a decision
    /// costs in AWS calls (read before and after it).
    pub fn requests_sent(&self) -> u64 {
        self.requests.0.load(Ordering::Relaxed)
    }

    /// Opens the TLS connections to Kinesis and CloudWatch now, at Lambda init, so the first alarm
    /// does not pay the handshakes (hundreds of milliseconds on a small function). Best effort:
    /// a failure here only means the first real call connects instead.
    pub async fn warm_up(&self) {
        let kinesis = self.kinesis.list_streams().limit(1).send();
        let cloudwatch = self
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(planner::ALARM_NAME_PREFIX)
            .max_records(1)
            .send();
        let (kinesis, cloudwatch) = tokio::join!(kinesis, cloudwatch);
        if kinesis.is_err() || cloudwatch.is_err() {
            tracing::debug!("a warm-up call failed; the first real call will connect instead");
        }
    }

    /// The [`reconciler::StreamAdmin`] (and so the reader and resharder roles) over these clients.
    pub fn streams(&self) -> KinesisStreams {
        KinesisStreams::new(self.kinesis.clone())
    }

    /// The [`reconciler::MetricsPort`] and [`reconciler::AlarmPort`] over these clients.
    pub fn cloudwatch(&self) -> CloudWatch {
        CloudWatch::new(self.cloudwatch.clone())
    }

    /// The [`reconciler::ContinuationPort`] over these clients (the scale-down continuation).
    pub fn topics(&self) -> SnsTopics {
        SnsTopics::new(self.sns.clone())
    }
}

/// Loads configuration like the AWS CLI does, with `--region`, `--profile` and `--endpoint-url`
/// style overrides (each `None` falls back to the standard chain).
pub async fn load_config(
    region: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
) -> SdkConfig {
    let mut loader = base_loader();
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint_url) = endpoint_url {
        loader = loader.endpoint_url(endpoint_url);
    }
    loader.load().await
}

/// Configuration with fixed credentials and endpoint, for a local emulator (which accepts any
/// credentials) without touching the environment or profile files.
pub async fn load_static_config(
    region: &str,
    endpoint_url: &str,
    access_key_id: &str,
    secret: &str,
) -> SdkConfig {
    base_loader()
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new(access_key_id, secret, None, None, "static"))
        .load()
        .await
}

/// Retries and timeouts shared by every configuration.
///
/// The SDK's own retries are off: every call goes through `reconciler::retry`, so one error policy
/// (`reconciler::classify`) and one `Backoff` decide what is retried and for how long. Two layers
/// would multiply (the SDK's 3 tries under our 8 made an unreachable endpoint take 24 tries), and
/// the SDK's layer does not know `ResourceInUse` or Kinesis's `LimitExceeded` are worth waiting
/// out. The timeouts bound each try.
///
/// The HTTPS client is rustls over ring, with the system's root certificates: the SDK's default
/// (rustls over aws-lc-rs) adds a few MB of C to every binary for ciphers ring has too.
fn base_loader() -> ConfigLoader {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(20))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
}

/// Counts requests as they are sent (an SDK interceptor, so retries and pages count too).
#[derive(Debug, Clone, Default)]
struct CallCounter(Arc<AtomicU64>);

impl aws_sdk_kinesis::config::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_kinesis::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_kinesis::config::RuntimeComponents,
        _cfg: &mut aws_sdk_kinesis::config::ConfigBag,
    ) -> Result<(), aws_sdk_kinesis::error::BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
