//! The stream ports ([`StreamReader`], [`Resharder`], [`StreamAdmin`]) implemented with `aws-sdk-kinesis`.
//!
//! `describe` is three read calls: `DescribeStreamSummary` (status, retention, creation time,
//! ARN), `ListShards` (every page; open shards are those without an ending sequence number, the
//! rest are closed parents) and `ListTagsForStream` (every page). The mutating calls map one to
//! one onto Kinesis operations and never wait; waiting is the reconciler's job.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::{
    MetricsName, ScalingType, Shard as SdkShard, StreamDescriptionSummary, StreamMode, StreamModeDetails,
};
use planner::{HashKey, HashRange, Metric, Shard, ShardId, Tiling};
use reconciler::{ErrorKind, PortError, Resharder, StreamAdmin, StreamReader, StreamSnapshot, StreamStatus};

use crate::convert::{from_i32, to_chrono, to_i32};
use crate::errors::port_error;

/// `AddTagsToStream` and `RemoveTagsFromStream` take at most 10 tags per call.
const TAGS_PER_CALL: usize = 10;
/// How often a `ListShards` listing restarts from the first page after a retryable failure of a
/// later page (typically an `ExpiredNextTokenException`: page tokens live 300 s).
const LISTING_RESTARTS: u32 = 2;

/// Kinesis streams through the SDK client. Cheap to clone (the client is reference-counted).
#[derive(Debug, Clone)]
pub struct KinesisStreams {
    client: Client,
}

impl KinesisStreams {
    pub fn new(client: Client) -> Self {
        KinesisStreams { client }
    }

    /// Every shard `ListShards` returns, open or closed, across all pages.
    ///
    /// The first request names the stream; later ones carry only `NextToken` (Kinesis rejects
    /// both together). If a later page fails with a retryable error, such as an expired token
    /// after a slow listing, the listing restarts from the first page, since pages from two
    /// listings must not be mixed with a reshard in between.
    async fn list_shards(&self, stream: &str) -> Result<Vec<SdkShard>, PortError> {
        let mut restarts = 0;
        'listing: loop {
            let mut shards = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let request = match &token {
                    None => self.client.list_shards().stream_name(stream),
                    Some(token) => self.client.list_shards().next_token(token),
                };
                match request.send().await {
                    Ok(page) => {
                        shards.extend_from_slice(page.shards());
                        match page.next_token() {
                            Some(next) => token = Some(next.to_owned()),
                            None => return Ok(shards),
                        }
                    }
                    Err(err) => {
                        let err = port_error("ListShards", Some(stream), err);
                        if token.is_some() && err.is_retryable() && restarts < LISTING_RESTARTS {
                            restarts += 1;
                            tracing::debug!(stream, restarts, "restarting ListShards: {err}");
                            continue 'listing;
                        }
                        return Err(err);
                    }
                }
            }
        }
    }

    /// `DescribeStreamSummary`: status, retention, creation time, ARN; no shards, no tags.
    async fn summary(&self, stream: &str) -> Result<StreamDescriptionSummary, PortError> {
        let output = self
            .client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .map_err(|e| port_error("DescribeStreamSummary", Some(stream), e))?;
        output.stream_description_summary.ok_or_else(|| {
            PortError::new("DescribeStreamSummary", ErrorKind::Inconsistent, "response has no stream summary")
                .with_stream(stream)
        })
    }

    async fn list_tags(&self, stream: &str) -> Result<BTreeMap<String, String>, PortError> {
        let mut tags = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .client
                .list_tags_for_stream()
                .stream_name(stream)
                .set_exclusive_start_tag_key(after.take())
                .send()
                .await
                .map_err(|e| port_error("ListTagsForStream", Some(stream), e))?;
            for tag in page.tags() {
                tags.insert(tag.key().to_owned(), tag.value().unwrap_or_default().to_owned());
            }
            match page.tags().last() {
                Some(last) if page.has_more_tags() => after = Some(last.key().to_owned()),
                _ => return Ok(tags),
            }
        }
    }
}

/// The validated tiling of open shards, the closed ids, and the open shards whose parent is still
/// listed (born by a reshard within the retention period).
type Partition = (Tiling, Vec<ShardId>, BTreeSet<ShardId>);

fn partition_shards(stream: &str, shards: &[SdkShard]) -> Result<Partition, PortError> {
    let inconsistent = |message: String| PortError::new("ListShards", ErrorKind::Inconsistent, message);
    let mut open = Vec::new();
    let mut closed = Vec::new();
    let listed: BTreeSet<&str> = shards.iter().map(|s| s.shard_id()).collect();
    let mut with_listed_parent = BTreeSet::new();
    for shard in shards {
        let id = ShardId::new(shard.shard_id());
        let is_open = shard.sequence_number_range().is_none_or(|r| r.ending_sequence_number().is_none());
        if !is_open {
            closed.push(id);
            continue;
        }
        let parents = [shard.parent_shard_id(), shard.adjacent_parent_shard_id()];
        if parents.into_iter().flatten().any(|p| listed.contains(p)) {
            with_listed_parent.insert(id.clone());
        }
        let range = shard
            .hash_key_range()
            .ok_or_else(|| inconsistent(format!("shard {id} has no hash key range")))
            .and_then(|r| {
                HashRange::parse(r.starting_hash_key(), r.ending_hash_key())
                    .map_err(|e| inconsistent(format!("shard {id}: {e}")))
            })
            .map_err(|e| e.with_stream(stream))?;
        open.push(Shard { id, range });
    }
    let tiling = Tiling::new(open)
        .map_err(|e| inconsistent(format!("open shards do not tile the key space: {e}")))
        .map_err(|e| e.with_stream(stream))?;
    Ok((tiling, closed, with_listed_parent))
}

fn status_of(status: &aws_sdk_kinesis::types::StreamStatus, stream: &str) -> Result<StreamStatus, PortError> {
    use aws_sdk_kinesis::types::StreamStatus as S;
    Ok(match status {
        S::Creating => StreamStatus::Creating,
        S::Active => StreamStatus::Active,
        S::Updating => StreamStatus::Updating,
        S::Deleting => StreamStatus::Deleting,
        other => {
            return Err(PortError::new(
                "DescribeStreamSummary",
                ErrorKind::Other,
                format!("unknown stream status {:?}", other.as_str()),
            )
            .with_stream(stream));
        }
    })
}

impl StreamReader for KinesisStreams {
    async fn tags(&self, stream: &str) -> Result<BTreeMap<String, String>, PortError> {
        self.list_tags(stream).await
    }

    async fn status(&self, stream: &str) -> Result<StreamStatus, PortError> {
        let summary = self.summary(stream).await?;
        status_of(summary.stream_status(), stream)
    }

    async fn describe(&self, stream: &str) -> Result<StreamSnapshot, PortError> {
        let summary = self.summary(stream).await?;
        let status = status_of(summary.stream_status(), stream)?;
        let (open, closed, with_listed_parent) = match status {
            StreamStatus::Active | StreamStatus::Updating => match self.list_shards(stream).await {
                Ok(shards) => {
                    let (tiling, closed, with_listed_parent) = partition_shards(stream, &shards)?;
                    (Some(tiling), closed, with_listed_parent)
                }
                // Kinesis may refuse to list shards mid-reshard; the caller is waiting anyway.
                Err(err) if status == StreamStatus::Updating && err.kind == ErrorKind::ResourceInUse => {
                    (None, Vec::new(), BTreeSet::new())
                }
                Err(err) => return Err(err),
            },
            StreamStatus::Creating | StreamStatus::Deleting => (None, Vec::new(), BTreeSet::new()),
        };
        let tags = match status {
            StreamStatus::Deleting => BTreeMap::new(),
            _ => self.list_tags(stream).await?,
        };
        Ok(StreamSnapshot {
            name: summary.stream_name().to_owned(),
            arn: summary.stream_arn().to_owned(),
            status,
            open,
            closed,
            with_listed_parent,
            retention_hours: from_i32(summary.retention_period_hours()),
            tags,
            created: to_chrono(summary.stream_creation_timestamp()),
            shard_level_metrics: summary
                .enhanced_monitoring()
                .iter()
                .flat_map(|m| m.shard_level_metrics())
                .map(|m| m.as_str().to_owned())
                .collect(),
            on_demand: summary
                .stream_mode_details()
                .is_some_and(|m| m.stream_mode() == &StreamMode::OnDemand),
            // A negative count is no count: unknown.
            enhanced_fan_out_consumers: summary.consumer_count().and_then(|n| u32::try_from(n).ok()),
        })
    }

    /// Follows `NextToken`; where a page says `HasMoreStreams` without one (the older
    /// pagination, which the emulator still uses), continues after the last name instead, so an
    /// account with more than one page of streams is never silently cut at the first.
    async fn list_streams(&self) -> Result<Vec<String>, PortError> {
        let mut names: Vec<String> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let after = if token.is_none() { names.last().cloned() } else { None };
            let page = self
                .client
                .list_streams()
                .set_next_token(token.take())
                .set_exclusive_start_stream_name(after)
                .send()
                .await
                .map_err(|e| port_error("ListStreams", None, e))?;
            let before = names.len();
            names.extend(page.stream_names().iter().cloned());
            match page.next_token() {
                _ if !page.has_more_streams() || names.len() == before => return Ok(names),
                Some(next) => token = Some(next.to_owned()),
                None => {}
            }
        }
    }
}

impl Resharder for KinesisStreams {
    async fn split_shard(&self, stream: &str, shard: &ShardId, at: HashKey) -> Result<(), PortError> {
        self.client
            .split_shard()
            .stream_name(stream)
            .shard_to_split(shard.as_str())
            .new_starting_hash_key(at.to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error("SplitShard", Some(stream), e))
    }

    async fn merge_shards(&self, stream: &str, shard: &ShardId, adjacent: &ShardId) -> Result<(), PortError> {
        self.client
            .merge_shards()
            .stream_name(stream)
            .shard_to_merge(shard.as_str())
            .adjacent_shard_to_merge(adjacent.as_str())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error("MergeShards", Some(stream), e))
    }

    async fn update_shard_count(&self, stream: &str, target: u32) -> Result<(), PortError> {
        let target =
            to_i32("UpdateShardCount", "target shard count", target).map_err(|e| e.with_stream(stream))?;
        self.client
            .update_shard_count()
            .stream_name(stream)
            .target_shard_count(target)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error("UpdateShardCount", Some(stream), e))
    }

    async fn enable_shard_metrics(&self, stream: &str, metrics: &[Metric]) -> Result<(), PortError> {
        self.client
            .enable_enhanced_monitoring()
            .stream_name(stream)
            .set_shard_level_metrics(Some(metrics.iter().map(|m| MetricsName::from(m.as_str())).collect()))
            .send()
            .await
            .map(drop)
            .map_err(|e| port_error("EnableEnhancedMonitoring", Some(stream), e))
    }

    async fn add_tags(&self, stream: &str, tags: &BTreeMap<String, String>) -> Result<(), PortError> {
        let tags: Vec<(&String, &String)> = tags.iter().collect();
        for chunk in tags.chunks(TAGS_PER_CALL) {
            let map = chunk.iter().map(|(k, v)| ((*k).clone(), (*v).clone())).collect();
            self.client
                .add_tags_to_stream()
                .stream_name(stream)
                .set_tags(Some(map))
                .send()
                .await
                .map_err(|e| port_error("AddTagsToStream", Some(stream), e))?;
        }
        Ok(())
    }

    async fn remove_tags(&self, stream: &str, keys: &[String]) -> Result<(), PortError> {
        for chunk in keys.chunks(TAGS_PER_CALL) {
            self.client
                .remove_tags_from_stream()
                .stream_name(stream)
                .set_tag_keys(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| port_error("RemoveTagsFromStream", Some(stream), e))?;
        }
        Ok(())
    }
}

impl StreamAdmin for KinesisStreams {
    async fn create_stream(&self, stream: &str, shards: u32) -> Result<(), PortError> {
        let shard_count = to_i32("CreateStream", "shard count", shards).map_err(|e| e.with_stream(stream))?;
        let mode =
            StreamModeDetails::builder().stream_mode(StreamMode::Provisioned).build().map_err(|e| {
                PortError::new("CreateStream", ErrorKind::InvalidArgument, e.to_string()).with_stream(stream)
            })?;
        let result = self
            .client
            .create_stream()
            .stream_name(stream)
            .shard_count(shard_count)
            .stream_mode_details(mode)
            .send()
            .await;
        result.map(|_| ()).map_err(|e| {
            let mut err = port_error("CreateStream", Some(stream), e);
            // Kinesis reports an existing stream as ResourceInUseException ("... already exists"),
            // which would otherwise be retried as if the stream were merely busy.
            if err.kind == ErrorKind::ResourceInUse && err.message.contains("already exists") {
                err.kind = ErrorKind::AlreadyExists;
            }
            err
        })
    }

    async fn delete_stream(&self, stream: &str) -> Result<(), PortError> {
        // No EnforceConsumerDeletion: refusing to delete a stream that still has consumers is the
        // safe default for a tool driven by a config file.
        self.client
            .delete_stream()
            .stream_name(stream)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error("DeleteStream", Some(stream), e))
    }

    async fn set_retention(&self, stream: &str, from_hours: u32, to_hours: u32) -> Result<(), PortError> {
        if from_hours == to_hours {
            return Ok(());
        }
        if to_hours > from_hours {
            let hours = to_i32("IncreaseStreamRetentionPeriod", "retention hours", to_hours)
                .map_err(|e| e.with_stream(stream))?;
            self.client
                .increase_stream_retention_period()
                .stream_name(stream)
                .retention_period_hours(hours)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| port_error("IncreaseStreamRetentionPeriod", Some(stream), e))
        } else {
            let hours = to_i32("DecreaseStreamRetentionPeriod", "retention hours", to_hours)
                .map_err(|e| e.with_stream(stream))?;
            self.client
                .decrease_stream_retention_period()
                .stream_name(stream)
                .retention_period_hours(hours)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| port_error("DecreaseStreamRetentionPeriod", Some(stream), e))
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_kinesis::config::retry::RetryConfig;
    use aws_sdk_kinesis::error::ErrorMetadata;
    use aws_sdk_kinesis::operation::create_stream::CreateStreamError;
    use aws_sdk_kinesis::operation::describe_stream_summary::{
        DescribeStreamSummaryError, DescribeStreamSummaryOutput,
    };
    use aws_sdk_kinesis::operation::list_shards::{ListShardsError, ListShardsOutput};
    use aws_sdk_kinesis::operation::list_tags_for_stream::ListTagsForStreamOutput;
    use aws_sdk_kinesis::operation::split_shard::SplitShardError;
    use aws_sdk_kinesis::operation::update_shard_count::UpdateShardCountError;
    use aws_sdk_kinesis::primitives::DateTime as SdkDateTime;
    use aws_sdk_kinesis::types::error::{
        LimitExceededException, ResourceInUseException, ResourceNotFoundException,
    };
    use aws_sdk_kinesis::types::{HashKeyRange, SequenceNumberRange, Tag};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    use super::*;

    const MID: u128 = 1 << 127;

    /// A mocked client with the SDK's own retries off, so each rule answers exactly one call.
    fn streams(rules: &[&Rule]) -> KinesisStreams {
        KinesisStreams::new(mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, rules, |c| c
            .retry_config(RetryConfig::disabled())))
    }

    fn sdk_shard(id: &str, start: u128, end: u128, closed: bool) -> SdkShard {
        let mut seq = SequenceNumberRange::builder().starting_sequence_number("1");
        if closed {
            seq = seq.ending_sequence_number("2");
        }
        SdkShard::builder()
            .shard_id(id)
            .hash_key_range(
                HashKeyRange::builder()
                    .starting_hash_key(start.to_string())
                    .ending_hash_key(end.to_string())
                    .build()
                    .unwrap(),
            )
            .sequence_number_range(seq.build().unwrap())
            .build()
            .unwrap()
    }

    fn summary_rule(status: aws_sdk_kinesis::types::StreamStatus) -> Rule {
        mock!(Client::describe_stream_summary).then_output(move || {
            DescribeStreamSummaryOutput::builder()
                .stream_description_summary(
                    StreamDescriptionSummary::builder()
                        .stream_name("orders")
                        .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/orders")
                        .stream_status(status.clone())
                        .retention_period_hours(24)
                        .stream_creation_timestamp(SdkDateTime::from_secs(1_700_000_000))
                        .open_shard_count(2)
                        .set_enhanced_monitoring(Some(vec![]))
                        .build()
                        .unwrap(),
                )
                .build()
        })
    }

    fn tags_rule() -> Rule {
        mock!(Client::list_tags_for_stream).then_output(|| {
            ListTagsForStreamOutput::builder()
                .tags(Tag::builder().key("team").value("data").build().unwrap())
                .has_more_tags(false)
                .build()
                .unwrap()
        })
    }

    /// Error metadata as the SDK's deserializer fills it in from a real response; the modeled
    /// error builders leave it empty, and the mapping reads the code from it.
    fn meta(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    /// An error the model does not name, carrying only a code.
    fn generic<E>(code: &str, build: fn(ErrorMetadata) -> E) -> E {
        build(meta(code, "from the mock"))
    }

    #[tokio::test]
    async fn list_streams_continues_after_the_last_name_when_a_page_has_no_token() {
        use aws_sdk_kinesis::operation::list_streams::ListStreamsOutput;
        let first = mock!(Client::list_streams)
            .match_requests(|r| r.exclusive_start_stream_name().is_none() && r.next_token().is_none())
            .then_output(|| {
                ListStreamsOutput::builder()
                    .stream_names("a")
                    .stream_names("b")
                    .has_more_streams(true)
                    .build()
                    .unwrap()
            });
        let with_token = mock!(Client::list_streams)
            .match_requests(|r| r.exclusive_start_stream_name() == Some("b"))
            .then_output(|| {
                ListStreamsOutput::builder()
                    .stream_names("c")
                    .has_more_streams(true)
                    .next_token("t")
                    .build()
                    .unwrap()
            });
        let last = mock!(Client::list_streams)
            .match_requests(|r| r.next_token() == Some("t") && r.exclusive_start_stream_name().is_none())
            .then_output(|| {
                ListStreamsOutput::builder().stream_names("d").has_more_streams(false).build().unwrap()
            });
        let port = streams(&[&first, &with_token, &last]);
        assert_eq!(port.list_streams().await.unwrap(), ["a", "b", "c", "d"]);
    }

    #[tokio::test]
    async fn list_shards_follows_next_token_without_stream_name_and_separates_closed_shards() {
        let first = mock!(Client::list_shards)
            .match_requests(|r| r.stream_name() == Some("orders") && r.next_token().is_none())
            .then_output(|| {
                ListShardsOutput::builder()
                    .shards(sdk_shard("shardId-000000000000", 0, u128::MAX, true))
                    .shards(sdk_shard("shardId-000000000001", 0, MID - 1, false))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::list_shards)
            .match_requests(|r| r.stream_name().is_none() && r.next_token() == Some("page-2"))
            .then_output(|| {
                ListShardsOutput::builder()
                    .shards(sdk_shard("shardId-000000000002", MID, u128::MAX, false))
                    .build()
            });
        let summary = summary_rule(aws_sdk_kinesis::types::StreamStatus::Active);
        let tags = tags_rule();
        let port = streams(&[&summary, &first, &second, &tags]);

        let snap = port.describe("orders").await.unwrap();

        let open: Vec<(&str, HashKey)> =
            snap.open.as_ref().unwrap().shards().iter().map(|s| (s.id.as_str(), s.range.start())).collect();
        assert_eq!(open, vec![("shardId-000000000001", HashKey(0)), ("shardId-000000000002", HashKey(MID))]);
        assert_eq!(snap.closed, vec![ShardId::new("shardId-000000000000")]);
        assert_eq!(snap.status, StreamStatus::Active);
        assert_eq!(snap.retention_hours, 24);
        assert_eq!(snap.tags.get("team").map(String::as_str), Some("data"));
        assert_eq!(snap.created.timestamp(), 1_700_000_000);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn an_expired_page_token_restarts_the_listing_from_the_first_page() {
        let first = mock!(Client::list_shards)
            .match_requests(|r| r.stream_name() == Some("orders"))
            .then_output(|| {
                ListShardsOutput::builder()
                    .shards(sdk_shard("shardId-000000000001", 0, MID - 1, false))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::list_shards)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .sequence()
            .error(|| generic("ExpiredNextTokenException", ListShardsError::generic))
            .output(|| {
                ListShardsOutput::builder()
                    .shards(sdk_shard("shardId-000000000002", MID, u128::MAX, false))
                    .build()
            })
            .build();
        let port = streams(&[&first, &second]);

        let shards = port.list_shards("orders").await.unwrap();

        assert_eq!(shards.len(), 2);
        assert_eq!(first.num_calls(), 2, "listing restarted from the first page");
    }

    #[tokio::test]
    async fn throttled_list_shards_maps_to_throttled() {
        let rule = mock!(Client::list_shards)
            .then_error(|| generic("ThrottlingException", ListShardsError::generic));
        let err = streams(&[&rule]).list_shards("orders").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Throttled);
        assert_eq!((err.call, err.stream.as_deref()), ("ListShards", Some("orders")));
        assert_eq!(err.message, "from the mock");
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn kinesis_limit_exceeded_on_split_is_retryable() {
        let rule = mock!(Client::split_shard).then_error(|| {
            SplitShardError::LimitExceededException(
                LimitExceededException::builder().meta(meta("LimitExceededException", "slow down")).build(),
            )
        });
        let err = streams(&[&rule])
            .split_shard("orders", &ShardId::new("shardId-000000000000"), HashKey(MID))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::LimitExceeded);
        assert!(err.is_retryable());
    }

    fn update_shard_count_refused(message: &'static str) -> Rule {
        mock!(Client::update_shard_count).then_error(move || {
            UpdateShardCountError::LimitExceededException(
                LimitExceededException::builder().meta(meta("LimitExceededException", message)).build(),
            )
        })
    }

    #[tokio::test]
    async fn a_limit_exceeded_that_names_a_quota_is_a_quota_not_a_rate() {
        for message in [
            // The daily UpdateShardCount quota.
            "Stream orders under account 123456789012 exceeds the maximum number of UpdateShardCount \
             operations (10) in a rolling 24-hour period.",
            // The account's shard limit: AWS (as kinesalite reproduces it) and the emulator.
            "This request would exceed the shard limit for the account 123456789012 in us-east-1. \
             Current shard count for the account: 500. Limit: 500.",
            "Operation would result more shards than the configured shard limit for this account",
        ] {
            let rule = update_shard_count_refused(message);
            let err = streams(&[&rule]).update_shard_count("orders", 8).await.unwrap_err();
            assert_eq!(err.kind, ErrorKind::QuotaExceeded, "{message}");
            assert!(!err.is_retryable());
        }
    }

    #[tokio::test]
    async fn a_limit_exceeded_that_says_rate_is_a_retryable_rate_limit() {
        for message in ["Rate exceeded for stream orders under account 123456789012.", "Rate limit exceeded"]
        {
            let rule = update_shard_count_refused(message);
            let err = streams(&[&rule]).update_shard_count("orders", 8).await.unwrap_err();
            assert_eq!(err.kind, ErrorKind::LimitExceeded, "{message}");
            assert!(err.is_retryable());
        }
    }

    #[tokio::test]
    async fn describing_a_missing_stream_maps_to_not_found() {
        let rule = mock!(Client::describe_stream_summary).then_error(|| {
            DescribeStreamSummaryError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .meta(meta("ResourceNotFoundException", "Stream orders not found"))
                    .build(),
            )
        });
        let err = streams(&[&rule]).describe("orders").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("Stream orders not found"), "{err}");
    }

    #[tokio::test]
    async fn a_server_error_maps_to_transient() {
        let rule = mock!(Client::list_shards).sequence().http_status(503, None).build();
        let err = streams(&[&rule]).list_shards("orders").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Transient);
    }

    #[tokio::test]
    async fn creating_an_existing_stream_maps_to_already_exists_not_resource_in_use() {
        let rule = mock!(Client::create_stream).then_error(|| {
            CreateStreamError::ResourceInUseException(
                ResourceInUseException::builder()
                    .meta(meta(
                        "ResourceInUseException",
                        "Stream orders under account 000000000000 already exists.",
                    ))
                    .build(),
            )
        });
        let err = streams(&[&rule]).create_stream("orders", 1).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::AlreadyExists);
    }

    #[tokio::test]
    async fn open_shards_with_a_gap_are_an_inconsistent_snapshot() {
        let shards = mock!(Client::list_shards).then_output(|| {
            ListShardsOutput::builder().shards(sdk_shard("shardId-000000000001", 0, MID - 1, false)).build()
        });
        let summary = summary_rule(aws_sdk_kinesis::types::StreamStatus::Updating);
        let err = streams(&[&summary, &shards]).describe("orders").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Inconsistent);
        assert!(err.is_retryable());
        assert!(err.message.contains("do not tile"), "{err}");
    }

    #[tokio::test]
    async fn a_creating_stream_is_described_without_listing_shards() {
        let summary = summary_rule(aws_sdk_kinesis::types::StreamStatus::Creating);
        let shards = mock!(Client::list_shards).then_output(|| ListShardsOutput::builder().build());
        let tags = tags_rule();
        let snap = streams(&[&summary, &shards, &tags]).describe("orders").await.unwrap();
        assert_eq!(snap.status, StreamStatus::Creating);
        assert!(snap.open.is_none());
        assert_eq!(shards.num_calls(), 0);
    }

    #[tokio::test]
    async fn tags_are_added_ten_per_call() {
        let rule = mock!(Client::add_tags_to_stream)
            .match_requests(|r| r.tags().is_some_and(|t| t.len() <= 10))
            .then_output(|| {
                aws_sdk_kinesis::operation::add_tags_to_stream::AddTagsToStreamOutput::builder().build()
            });
        let tags: BTreeMap<String, String> = (0..25).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
        streams(&[&rule]).add_tags("orders", &tags).await.unwrap();
        assert_eq!(rule.num_calls(), 3);
    }
}
