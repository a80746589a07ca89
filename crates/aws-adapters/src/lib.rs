//! The reconciler's ports implemented with the AWS SDK for Rust.
//!
//! This is the only crate in the workspace that imports `aws_sdk_*`: it builds the SDK clients
//! once ([`AwsClients`], [`load_config`]), implements [`reconciler::StreamAdmin`] (and so the reader and resharder roles) with Kinesis
//! ([`KinesisStreams`]) and [`reconciler::MetricsPort`] + [`reconciler::AlarmPort`] with
//! CloudWatch ([`CloudWatch`]) and [`reconciler::ContinuationPort`] with SNS ([`SnsTopics`]), and
//! maps every SDK error to a [`reconciler::ErrorKind`] in one function, so nothing above it needs
//! to know an SDK type.

mod clients;
mod cloudwatch;
mod convert;
mod errors;
mod kinesis;
mod sns;

pub use clients::{AwsClients, load_config, load_static_config};
pub use cloudwatch::CloudWatch;
pub use kinesis::KinesisStreams;
pub use sns::SnsTopics;
