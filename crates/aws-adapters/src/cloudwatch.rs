//! [`MetricsPort`] and [`AlarmPort`] implemented with `aws-sdk-cloudwatch`.
//!
//! Batching and pagination live here so callers never meet CloudWatch's request limits:
//! `PutMetricData` takes 1,000 datapoints per call, `GetMetricData` 500 queries per call (and
//! pages its results with `NextToken`), `DescribeAlarms` pages with `NextToken`, and
//! `DeleteAlarms` takes 100 names per call.
//!
//! Every series carries CloudWatch's `StatusCode` ([`ReadStatus`]): `PartialData` on a page means
//! more is to come with `NextToken`, so a series' status is the one its last page gave, except
//! that `InternalError` and `Forbidden` stick. A query no page answered reads `PartialData`.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::operation::describe_alarms::builders::DescribeAlarmsFluentBuilder;
use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, Dimension as SdkDimension, Metric as SdkMetric, MetricAlarm,
    MetricDataQuery, MetricDatum, MetricStat, ScanBy, StandardUnit, StateValue, Statistic as SdkStatistic,
    StatusCode,
};
use chrono::{DateTime, Utc};
use planner::{AlarmDefinition, AlarmSpec};
use reconciler::{
    AlarmPort, AlarmState, AlarmSummary, Dimension, ErrorKind, MetricPoint, MetricPublisher, MetricQuery,
    MetricSeries, MetricsPort, PortError, ReadStatus, Unit,
};

use crate::convert::{from_i32, to_chrono, to_i32, to_sdk};
use crate::errors::port_error;

const POINTS_PER_PUT: usize = 1_000;
const QUERIES_PER_GET: usize = 500;
const ALARMS_PER_DELETE: usize = 100;
/// `DescribeAlarms`' largest page (`MaxRecords`, 1–100).
const ALARMS_PER_PAGE: i32 = 100;

/// CloudWatch metrics and alarms through the SDK client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct CloudWatch {
    client: Client,
}

impl CloudWatch {
    pub fn new(client: Client) -> Self {
        CloudWatch { client }
    }

    /// The metric alarms a `DescribeAlarms` request, as `filter` narrows it, finds across all pages.
    async fn metric_alarms(
        &self,
        filter: impl Fn(DescribeAlarmsFluentBuilder) -> DescribeAlarmsFluentBuilder,
    ) -> Result<Vec<AlarmSummary>, PortError> {
        let mut alarms = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = filter(self.client.describe_alarms())
                .alarm_types(AlarmType::MetricAlarm)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error("DescribeAlarms", None, e))?;
            alarms.extend(page.metric_alarms().iter().map(summary));
            match page.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(alarms),
            }
        }
    }

    /// The alarms among `names` that exist (used when a batch delete names a missing one).
    async fn existing_alarms(&self, names: &[String]) -> Result<Vec<String>, PortError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .describe_alarms()
                .set_alarm_names(Some(names.to_vec()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error("DescribeAlarms", None, e))?;
            found.extend(page.metric_alarms().iter().filter_map(|a| a.alarm_name().map(str::to_owned)));
            found.extend(page.composite_alarms().iter().filter_map(|a| a.alarm_name().map(str::to_owned)));
            match page.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(found),
            }
        }
    }
}

fn sdk_dimension(d: &Dimension) -> SdkDimension {
    SdkDimension::builder().name(&d.name).value(&d.value).build()
}

fn sdk_unit(unit: Unit) -> StandardUnit {
    match unit {
        Unit::Bytes => StandardUnit::Bytes,
        Unit::Count => StandardUnit::Count,
        Unit::Milliseconds => StandardUnit::Milliseconds,
        Unit::None => StandardUnit::None,
    }
}

fn datum(point: &MetricPoint) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(&point.metric)
        .set_dimensions(Some(point.dimensions.iter().map(sdk_dimension).collect()))
        .timestamp(to_sdk(point.timestamp))
        .value(point.value)
        .unit(sdk_unit(point.unit))
        .build()
}

fn sdk_query(query: &MetricQuery) -> Result<MetricDataQuery, PortError> {
    let metric = SdkMetric::builder()
        .namespace(&query.namespace)
        .metric_name(&query.metric)
        .set_dimensions(Some(query.dimensions.iter().map(sdk_dimension).collect()))
        .build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(to_i32("GetMetricData", "period", query.period_secs)?)
        .stat(query.stat.as_str())
        .build();
    Ok(MetricDataQuery::builder().id(&query.id).metric_stat(stat).return_data(true).build())
}

/// A page's `StatusCode` for one query; an unknown or absent one is not proof of completeness.
fn read_status(code: Option<&StatusCode>) -> ReadStatus {
    match code {
        Some(StatusCode::Complete) => ReadStatus::Complete,
        Some(StatusCode::InternalError) => ReadStatus::InternalError,
        Some(StatusCode::Forbidden) => ReadStatus::Forbidden,
        _ => ReadStatus::PartialData,
    }
}

fn alarm_state(value: &StateValue) -> Option<AlarmState> {
    match value {
        StateValue::Ok => Some(AlarmState::Ok),
        StateValue::Alarm => Some(AlarmState::Alarm),
        StateValue::InsufficientData => Some(AlarmState::InsufficientData),
        _ => None,
    }
}

fn summary(alarm: &MetricAlarm) -> AlarmSummary {
    AlarmSummary {
        name: alarm.alarm_name().unwrap_or_default().to_owned(),
        dimensions: alarm
            .dimensions()
            .iter()
            .map(|d| Dimension::new(d.name().unwrap_or_default(), d.value().unwrap_or_default()))
            .collect(),
        definition: AlarmDefinition {
            namespace: alarm.namespace().map(str::to_owned),
            metric: alarm.metric_name().map(str::to_owned),
            statistic: alarm.statistic().map(|s| s.as_str().to_owned()),
            period_secs: alarm.period().map(from_i32),
            evaluation_periods: alarm.evaluation_periods().map(from_i32),
            datapoints_to_alarm: alarm.datapoints_to_alarm().map(from_i32),
            threshold: alarm.threshold(),
            comparison: alarm.comparison_operator().map(|c| c.as_str().to_owned()),
            treat_missing_data: alarm.treat_missing_data().map(str::to_owned),
            actions: alarm.alarm_actions().to_vec(),
            description: alarm.alarm_description().map(str::to_owned),
        },
        state: alarm.state_value().and_then(alarm_state),
        state_reason: alarm.state_reason().unwrap_or_default().to_owned(),
        state_updated_at: alarm.state_updated_timestamp().map(to_chrono),
    }
}

impl MetricPublisher for CloudWatch {
    async fn put_metric_data(&self, points: &[MetricPoint]) -> Result<(), PortError> {
        // One namespace per request: group, then batch.
        let mut by_namespace: BTreeMap<&str, Vec<&MetricPoint>> = BTreeMap::new();
        for point in points {
            by_namespace.entry(point.namespace.as_str()).or_default().push(point);
        }
        for (namespace, points) in by_namespace {
            for chunk in points.chunks(POINTS_PER_PUT) {
                self.client
                    .put_metric_data()
                    .namespace(namespace)
                    .set_metric_data(Some(chunk.iter().map(|p| datum(p)).collect()))
                    .send()
                    .await
                    .map_err(|e| port_error("PutMetricData", None, e))?;
            }
        }
        Ok(())
    }
}

impl MetricsPort for CloudWatch {
    async fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<MetricSeries>, PortError> {
        let mut series: BTreeMap<String, MetricSeries> = queries
            .iter()
            .map(|q| {
                let series = MetricSeries {
                    id: q.id.clone(),
                    label: None,
                    points: Vec::new(),
                    status: ReadStatus::PartialData,
                };
                (q.id.clone(), series)
            })
            .collect();
        // Which queries some page answered: until then a series is `PartialData`.
        let mut answered = std::collections::BTreeSet::new();
        for chunk in queries.chunks(QUERIES_PER_GET) {
            let sdk_queries = chunk.iter().map(sdk_query).collect::<Result<Vec<_>, _>>()?;
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .get_metric_data()
                    .set_metric_data_queries(Some(sdk_queries.clone()))
                    .start_time(to_sdk(start))
                    .end_time(to_sdk(end))
                    .scan_by(ScanBy::TimestampAscending)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| port_error("GetMetricData", None, e))?;
                for result in page.metric_data_results() {
                    let Some(entry) = result.id().and_then(|id| series.get_mut(id)) else {
                        continue;
                    };
                    if entry.label.is_none() {
                        entry.label = result.label().map(str::to_owned);
                    }
                    let page_status = read_status(result.status_code());
                    let failed = matches!(entry.status, ReadStatus::InternalError | ReadStatus::Forbidden);
                    if !(failed && answered.contains(&entry.id)) {
                        entry.status = page_status;
                    }
                    answered.insert(entry.id.clone());
                    entry.points.extend(
                        result.timestamps().iter().map(to_chrono).zip(result.values().iter().copied()),
                    );
                }
                match page.next_token() {
                    Some(next) => token = Some(next.to_owned()),
                    None => break,
                }
            }
        }
        Ok(queries
            .iter()
            .filter_map(|q| series.remove(&q.id))
            .map(|mut s| {
                // Pages are each ascending, but not necessarily ordered among themselves.
                s.points.sort_by_key(|(t, _)| *t);
                s
            })
            .collect())
    }
}

impl AlarmPort for CloudWatch {
    async fn put_alarm(&self, spec: &AlarmSpec) -> Result<(), PortError> {
        let call = "PutMetricAlarm";
        let in_range = |what, value| to_i32(call, what, value).map_err(|e| e.with_stream(&spec.stream));
        self.client
            .put_metric_alarm()
            .alarm_name(&spec.name)
            .alarm_description(&spec.description)
            .namespace(AlarmSpec::NAMESPACE)
            .metric_name(spec.metric.as_str())
            .set_dimensions(Some(Dimension::of_alarm(spec).iter().map(sdk_dimension).collect()))
            .statistic(SdkStatistic::from(AlarmSpec::STATISTIC))
            .period(in_range("period", spec.period_secs)?)
            .evaluation_periods(in_range("evaluation periods", spec.evaluation_periods)?)
            .datapoints_to_alarm(in_range("datapoints to alarm", spec.datapoints_to_alarm)?)
            .threshold(spec.threshold)
            .comparison_operator(ComparisonOperator::from(spec.comparison.as_str()))
            .treat_missing_data(AlarmSpec::TREAT_MISSING_DATA)
            .actions_enabled(true)
            .set_alarm_actions(Some(spec.alarm_actions.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error(call, Some(&spec.stream), e))
    }

    async fn describe_alarms(&self, prefix: &str) -> Result<Vec<AlarmSummary>, PortError> {
        self.metric_alarms(|r| r.alarm_name_prefix(prefix)).await
    }

    async fn describe_alarm(&self, name: &str) -> Result<Option<AlarmSummary>, PortError> {
        Ok(self.metric_alarms(|r| r.alarm_names(name)).await?.into_iter().find(|a| a.name == name))
    }

    async fn alarms_in_alarm(&self, prefix: &str) -> Result<Vec<AlarmSummary>, PortError> {
        self.metric_alarms(|r| {
            r.alarm_name_prefix(prefix).state_value(StateValue::Alarm).max_records(ALARMS_PER_PAGE)
        })
        .await
    }

    async fn delete_alarms(&self, names: &[String]) -> Result<(), PortError> {
        for chunk in names.chunks(ALARMS_PER_DELETE) {
            let result = self.client.delete_alarms().set_alarm_names(Some(chunk.to_vec())).send().await;
            let err = match result {
                Ok(_) => continue,
                Err(e) => port_error("DeleteAlarms", None, e),
            };
            // AWS deletes nothing when any name is unknown; deleting what exists makes the call
            // idempotent, which a reconcile loop needs.
            if err.kind != ErrorKind::NotFound {
                return Err(err);
            }
            let existing = self.existing_alarms(chunk).await?;
            if !existing.is_empty() {
                self.client
                    .delete_alarms()
                    .set_alarm_names(Some(existing))
                    .send()
                    .await
                    .map_err(|e| port_error("DeleteAlarms", None, e))?;
            }
        }
        Ok(())
    }

    async fn set_alarm_state(&self, name: &str, state: AlarmState, reason: &str) -> Result<(), PortError> {
        self.client
            .set_alarm_state()
            .alarm_name(name)
            .state_value(StateValue::from(state.as_str()))
            .state_reason(reason)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| port_error("SetAlarmState", None, e))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatch::config::retry::RetryConfig;
    use aws_sdk_cloudwatch::error::ErrorMetadata;
    use aws_sdk_cloudwatch::operation::delete_alarms::{DeleteAlarmsError, DeleteAlarmsOutput};
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
    use aws_sdk_cloudwatch::operation::put_metric_alarm::PutMetricAlarmOutput;
    use aws_sdk_cloudwatch::operation::put_metric_data::PutMetricDataOutput;
    use aws_sdk_cloudwatch::primitives::DateTime as SdkDateTime;
    use aws_sdk_cloudwatch::types::error::ResourceNotFound;
    use aws_sdk_cloudwatch::types::{MetricDataResult, StatusCode};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use planner::{Metric, Policy, alarm_specs};
    use reconciler::{ReadStatus, Statistic};

    use super::*;

    fn cloudwatch(rules: &[&Rule]) -> CloudWatch {
        CloudWatch::new(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, rules, |c| c
            .retry_config(RetryConfig::disabled())))
    }

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("from the mock").build()
    }

    fn query(id: &str) -> MetricQuery {
        MetricQuery {
            id: id.into(),
            namespace: "AWS/Kinesis".into(),
            metric: "IncomingBytes".into(),
            dimensions: vec![Dimension::stream("orders")],
            period_secs: 300,
            stat: Statistic::Sum,
        }
    }

    fn result(id: &str, points: &[(i64, f64)]) -> MetricDataResult {
        MetricDataResult::builder()
            .id(id)
            .set_timestamps(Some(points.iter().map(|(t, _)| SdkDateTime::from_secs(*t)).collect()))
            .set_values(Some(points.iter().map(|(_, v)| *v).collect()))
            .build()
    }

    #[tokio::test]
    async fn get_metric_data_follows_next_token_and_merges_pages_per_query() {
        let first =
            mock!(Client::get_metric_data).match_requests(|r| r.next_token().is_none()).then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(result("bytes", &[(600, 2.0)]))
                    .metric_data_results(result("records", &[(300, 10.0)]))
                    .next_token("page-2")
                    .build()
            });
        let second =
            mock!(Client::get_metric_data).match_requests(|r| r.next_token() == Some("page-2")).then_output(
                || GetMetricDataOutput::builder().metric_data_results(result("bytes", &[(300, 1.0)])).build(),
            );
        let port = cloudwatch(&[&first, &second]);
        let start = DateTime::from_timestamp(0, 0).unwrap();
        let end = DateTime::from_timestamp(900, 0).unwrap();

        let series = port.get_metric_data(&[query("bytes"), query("records")], start, end).await.unwrap();

        let flat: Vec<(&str, Vec<(i64, f64)>)> = series
            .iter()
            .map(|s| (s.id.as_str(), s.points.iter().map(|(t, v)| (t.timestamp(), *v)).collect()))
            .collect();
        assert_eq!(flat, vec![("bytes", vec![(300, 1.0), (600, 2.0)]), ("records", vec![(300, 10.0)])]);
    }

    fn with_status(result: MetricDataResult, status: StatusCode) -> MetricDataResult {
        MetricDataResult::builder()
            .set_id(result.id)
            .set_timestamps(result.timestamps)
            .set_values(result.values)
            .status_code(status)
            .build()
    }

    #[tokio::test]
    async fn each_series_carries_its_status_code_after_the_last_page() {
        // `bytes` is PartialData on the first page and Complete once NextToken is followed;
        // `records` is still PartialData on the last page; `forbidden` failed outright.
        let first =
            mock!(Client::get_metric_data).match_requests(|r| r.next_token().is_none()).then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(with_status(result("bytes", &[(300, 1.0)]), StatusCode::PartialData))
                    .metric_data_results(with_status(result("records", &[]), StatusCode::PartialData))
                    .metric_data_results(with_status(result("forbidden", &[]), StatusCode::Forbidden))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::get_metric_data)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(with_status(result("bytes", &[(600, 2.0)]), StatusCode::Complete))
                    .metric_data_results(with_status(result("records", &[]), StatusCode::PartialData))
                    .build()
            });
        let port = cloudwatch(&[&first, &second]);
        let queries = [query("bytes"), query("records"), query("forbidden"), query("absent")];
        let series =
            port.get_metric_data(&queries, DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH).await.unwrap();
        let statuses: Vec<(&str, ReadStatus)> = series.iter().map(|s| (s.id.as_str(), s.status)).collect();
        assert_eq!(
            statuses,
            [
                ("bytes", ReadStatus::Complete),
                ("records", ReadStatus::PartialData),
                ("forbidden", ReadStatus::Forbidden),
                ("absent", ReadStatus::PartialData),
            ]
        );
    }

    #[tokio::test]
    async fn a_timed_out_get_metric_data_maps_to_timed_out() {
        let rule =
            mock!(Client::get_metric_data).then_error(|| GetMetricDataError::generic(meta("RequestTimeout")));
        let err = cloudwatch(&[&rule])
            .get_metric_data(&[query("bytes")], DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn get_metric_data_sends_at_most_500_queries_per_call() {
        let rule = mock!(Client::get_metric_data)
            .match_requests(|r| r.metric_data_queries().len() <= 500)
            .then_output(|| GetMetricDataOutput::builder().build());
        let queries: Vec<MetricQuery> = (0..1200).map(|i| query(&format!("q{i}"))).collect();
        let series = cloudwatch(&[&rule])
            .get_metric_data(&queries, DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH)
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 3);
        assert_eq!(series.len(), 1200, "one (empty) series per query, in query order");
        assert_eq!(series[1199].id, "q1199");
    }

    #[tokio::test]
    async fn throttled_get_metric_data_maps_to_throttled() {
        let rule =
            mock!(Client::get_metric_data).then_error(|| GetMetricDataError::generic(meta("Throttling")));
        let err = cloudwatch(&[&rule])
            .get_metric_data(&[query("bytes")], DateTime::UNIX_EPOCH, DateTime::UNIX_EPOCH)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Throttled);
    }

    #[tokio::test]
    async fn describe_alarms_follows_next_token() {
        let alarm =
            |name: &str| MetricAlarm::builder().alarm_name(name).state_value(StateValue::Alarm).build();
        let (a, b) = (alarm("kinesis-autoscaler-a"), alarm("kinesis-autoscaler-b"));
        let first = mock!(Client::describe_alarms)
            .match_requests(|r| {
                r.next_token().is_none() && r.alarm_name_prefix() == Some("kinesis-autoscaler-")
            })
            .then_output(move || {
                DescribeAlarmsOutput::builder().metric_alarms(a.clone()).next_token("p2").build()
            });
        let second = mock!(Client::describe_alarms)
            .match_requests(|r| r.next_token() == Some("p2"))
            .then_output(move || DescribeAlarmsOutput::builder().metric_alarms(b.clone()).build());
        let alarms = cloudwatch(&[&first, &second]).describe_alarms("kinesis-autoscaler-").await.unwrap();
        let names: Vec<_> = alarms.iter().map(|a| (a.name.as_str(), a.state)).collect();
        assert_eq!(
            names,
            vec![
                ("kinesis-autoscaler-a", Some(AlarmState::Alarm)),
                ("kinesis-autoscaler-b", Some(AlarmState::Alarm))
            ]
        );
    }

    #[tokio::test]
    async fn alarms_in_alarm_asks_for_alarm_state_in_pages_of_100_and_follows_them() {
        let alarm =
            |name: &str| MetricAlarm::builder().alarm_name(name).state_value(StateValue::Alarm).build();
        let (a, b) = (alarm("kinesis-autoscaler-a"), alarm("kinesis-autoscaler-b"));
        let asks_for_alarms = |r: &aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsInput| {
            r.alarm_name_prefix() == Some("kinesis-autoscaler-")
                && r.state_value() == Some(&StateValue::Alarm)
                && r.max_records() == Some(100)
        };
        let first = mock!(Client::describe_alarms)
            .match_requests(move |r| asks_for_alarms(r) && r.next_token().is_none())
            .then_output(move || {
                DescribeAlarmsOutput::builder().metric_alarms(a.clone()).next_token("p2").build()
            });
        let second = mock!(Client::describe_alarms)
            .match_requests(move |r| asks_for_alarms(r) && r.next_token() == Some("p2"))
            .then_output(move || DescribeAlarmsOutput::builder().metric_alarms(b.clone()).build());
        let alarms = cloudwatch(&[&first, &second]).alarms_in_alarm("kinesis-autoscaler-").await.unwrap();
        let names: Vec<_> = alarms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["kinesis-autoscaler-a", "kinesis-autoscaler-b"]);
    }

    #[tokio::test]
    async fn describe_alarm_finds_exactly_the_named_alarm_or_none() {
        let rule = mock!(Client::describe_alarms)
            .match_requests(|r| r.alarm_names() == ["kinesis-autoscaler-a"])
            .then_output(|| {
                DescribeAlarmsOutput::builder()
                    .metric_alarms(MetricAlarm::builder().alarm_name("kinesis-autoscaler-a").build())
                    .build()
            });
        let none = mock!(Client::describe_alarms)
            .match_requests(|r| r.alarm_names() == ["forged"])
            .then_output(|| DescribeAlarmsOutput::builder().build());
        let cloudwatch = cloudwatch(&[&rule, &none]);
        let found = cloudwatch.describe_alarm("kinesis-autoscaler-a").await.unwrap();
        assert_eq!(found.map(|a| a.name).as_deref(), Some("kinesis-autoscaler-a"));
        assert_eq!(cloudwatch.describe_alarm("forged").await.unwrap(), None);
    }

    #[tokio::test]
    async fn delete_alarms_sends_batches_of_100() {
        let rule = mock!(Client::delete_alarms)
            .match_requests(|r| r.alarm_names().len() <= 100)
            .then_output(|| DeleteAlarmsOutput::builder().build());
        let names: Vec<String> = (0..250).map(|i| format!("alarm-{i}")).collect();
        cloudwatch(&[&rule]).delete_alarms(&names).await.unwrap();
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn deleting_a_missing_alarm_deletes_the_rest() {
        let failing =
            mock!(Client::delete_alarms).match_requests(|r| r.alarm_names().len() == 2).then_error(|| {
                DeleteAlarmsError::ResourceNotFound(
                    ResourceNotFound::builder().meta(meta("ResourceNotFound")).build(),
                )
            });
        let existing = mock!(Client::describe_alarms).then_output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(MetricAlarm::builder().alarm_name("present").build())
                .build()
        });
        let retried = mock!(Client::delete_alarms)
            .match_requests(|r| r.alarm_names() == ["present".to_owned()])
            .then_output(|| DeleteAlarmsOutput::builder().build());
        let names = vec!["present".to_owned(), "gone".to_owned()];
        cloudwatch(&[&failing, &existing, &retried]).delete_alarms(&names).await.unwrap();
        assert_eq!((failing.num_calls(), retried.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn put_alarm_sends_the_spec_unchanged() {
        let spec =
            alarm_specs("orders", 2, &Policy::default(), &["arn:aws:sns:us-east-1:0:scale".to_owned()])
                .into_iter()
                .find(|s| s.metric == Metric::IncomingBytes)
                .unwrap();
        let expected = spec.clone();
        let rule = mock!(Client::put_metric_alarm)
            .match_requests(move |r| {
                r.alarm_name() == Some(expected.name.as_str())
                    && r.namespace() == Some("AWS/Kinesis")
                    && r.metric_name() == Some("IncomingBytes")
                    && r.statistic().map(|s| s.as_str()) == Some("Sum")
                    && r.threshold() == Some(expected.threshold)
                    && r.period() == Some(60)
                    && r.comparison_operator().map(|c| c.as_str()) == Some("GreaterThanOrEqualToThreshold")
                    && r.treat_missing_data() == Some("notBreaching")
                    && r.alarm_actions() == ["arn:aws:sns:us-east-1:0:scale".to_owned()]
                    && r.dimensions()
                        .iter()
                        .any(|d| d.name() == Some("StreamName") && d.value() == Some("orders"))
            })
            .then_output(|| PutMetricAlarmOutput::builder().build());
        cloudwatch(&[&rule]).put_alarm(&spec).await.unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn put_metric_data_batches_per_namespace() {
        let rule = mock!(Client::put_metric_data)
            .match_requests(|r| r.metric_data().len() <= 1000)
            .then_output(|| PutMetricDataOutput::builder().build());
        let point = |namespace: &str| MetricPoint {
            namespace: namespace.into(),
            metric: "IncomingBytes".into(),
            dimensions: vec![Dimension::stream("orders")],
            timestamp: DateTime::UNIX_EPOCH,
            value: 1.0,
            unit: Unit::Bytes,
        };
        let points: Vec<MetricPoint> =
            (0..1500).map(|i| point(if i % 2 == 0 { "AWS/Kinesis" } else { "Custom" })).collect();
        cloudwatch(&[&rule]).put_metric_data(&points).await.unwrap();
        assert_eq!(rule.num_calls(), 2, "750 points in each of two namespaces");
    }
}
