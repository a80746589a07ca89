//! Where the CLI talks to AWS: the flags the AWS CLI users know, and one set of clients per region.
//!
//! Credentials come from the standard chain (environment, profile, SSO, instance role). A stream
//! in `streams.yaml` may name its own region; every other stream uses `--region` or the region of
//! the AWS configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use aws_adapters::{AwsClients, CloudWatch, KinesisStreams, load_config};
use reconciler::{IoPolicy, Scope, SystemClock};

/// What the CLI's commands run the reconciler's flows with in one region: its clients behind the
/// one I/O policy, on the wall clock, with no deadline (the CLI waits as long as a change takes,
/// showing progress), the default backoff, and every stream under `prefix`.
pub(crate) fn context(clients: &AwsClients, prefix: &str) -> reconciler::Context<KinesisStreams, CloudWatch> {
    let scope = Scope { stream_prefix: prefix.to_owned(), ..Scope::default() };
    reconciler::Context::new(clients.streams(), clients.cloudwatch(), IoPolicy::new(Arc::new(SystemClock)))
        .with_scope(scope)
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AwsArgs {
    /// AWS region for streams that do not name one (default: the AWS configuration's).
    #[arg(long, global = true, env = "AWS_REGION")]
    region: Option<String>,
    /// Named profile from the AWS config and credentials files.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    profile: Option<String>,
    /// Send every request to this endpoint instead of AWS (a local emulator, a VPC endpoint).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
}

/// Clients for each region the configuration uses, built once.
pub(crate) struct Regions {
    /// The region of streams that name none.
    pub(crate) default: String,
    pub(crate) clients: BTreeMap<String, AwsClients>,
}

impl Regions {
    /// The region a stream lives in, given the `region` it names, if any.
    pub(crate) fn of(&self, region: Option<&str>) -> String {
        region.unwrap_or(&self.default).to_owned()
    }
}

impl AwsArgs {
    /// Builds clients for the default region and for each of `regions` (`None`: the default).
    pub(crate) async fn clients(&self, regions: impl IntoIterator<Item = Option<String>>) -> Result<Regions> {
        let mut clients = BTreeMap::new();
        let default = load_config(self.region.clone(), self.profile.clone(), self.endpoint_url.clone()).await;
        let default_region = default
            .region()
            .map(|r| r.to_string())
            .context("no AWS region: pass --region, set AWS_REGION, or set a region in your AWS config")?;
        for region in regions {
            let region = region.unwrap_or_else(|| default_region.clone());
            if clients.contains_key(&region) {
                continue;
            }
            let config = if region == default_region {
                default.clone()
            } else {
                load_config(Some(region.clone()), self.profile.clone(), self.endpoint_url.clone()).await
            };
            clients.insert(region, AwsClients::new(&config));
        }
        Ok(Regions { default: default_region, clients })
    }
}
