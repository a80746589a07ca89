//! Building the SDK clients once, from the standard AWS configuration chain.
//!
//! Binaries call [`load_config`] (the same sources and precedence as the AWS CLI: flags, then
//! environment, then profile files, SSO, container/instance credentials) and [`AwsClients::new`]
//! once at start-up; Lambdas do it outside the handler so the clients and their connection pools
//! are reused across invocations.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_kinesis::config::Credentials;

use crate::{CloudWatch, KinesisStreams};

/// The SDK clients the tool uses, sharing one configuration. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub kinesis: aws_sdk_kinesis::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Not used by the ports yet; the alarm pipeline's wiring (topics, subscriptions) will use it.
    pub sns: aws_sdk_sns::Client,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        AwsClients {
            kinesis: aws_sdk_kinesis::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
        }
    }

    /// The [`reconciler::StreamPort`] over these clients.
    pub fn streams(&self) -> KinesisStreams {
        KinesisStreams::new(self.kinesis.clone())
    }

    /// The [`reconciler::MetricsPort`] and [`reconciler::AlarmPort`] over these clients.
    pub fn cloudwatch(&self) -> CloudWatch {
        CloudWatch::new(self.cloudwatch.clone())
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
fn base_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::disabled()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(20))
            .operation_timeout(Duration::from_secs(60))
            .build(),
    )
}
