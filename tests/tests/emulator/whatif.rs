//! `streams whatif` against the emulator: three streams (steady, spiky, idle) with metrics
//! published for the minutes since they were created (the emulator's Kinesis publishes none, and
//! the command reads no history from before a stream existed), run by the real binary, its
//! figures checked against the simulator run directly on the same series; then `streams status`,
//! whose mode line replays the same minutes from its own look-back (1-minute periods here, so a
//! stream minutes old has whole periods to replay).

use chrono::{DateTime, TimeDelta, Utc};
use emulator_tests::{emulator_clients, unique_name};
use planner::{KINESIS_NAMESPACE, Metric, align_down};
use reconciler::{Dimension, MetricPoint, MetricPublisher, StreamReader, Unit};
use simulator::history::{History, HistoryWindow, replayable};
use simulator::whatif::{Mode, WhatIf};

use crate::common::{Cli, remove, stdout, transcript};
use crate::settle;

const MIB: f64 = 1_048_576.0;

/// Minutes of history each stream gets: the test waits this long after the streams exist. Two:
/// enough for a spike with rejected records and the quiet minute after it.
const MINUTES: usize = 2;

/// Per-minute `Sum`s of bytes (1 KiB records) and rejected records, one entry per minute.
struct Series {
    bytes_per_sec: [f64; MINUTES],
    rejected: [f64; MINUTES],
}

async fn publish(cloudwatch: &impl MetricPublisher, stream: &str, first: DateTime<Utc>, series: &Series) {
    let point = |metric: Metric, minute: usize, value: f64| MetricPoint {
        namespace: KINESIS_NAMESPACE.into(),
        metric: metric.as_str().into(),
        dimensions: vec![Dimension::stream(stream)],
        timestamp: first + TimeDelta::minutes(minute as i64),
        value,
        unit: if metric == Metric::IncomingBytes { Unit::Bytes } else { Unit::Count },
    };
    let mut points = Vec::new();
    for m in 0..MINUTES {
        let bytes = series.bytes_per_sec[m] * 60.0;
        points.push(point(Metric::IncomingBytes, m, bytes));
        points.push(point(Metric::IncomingRecords, m, bytes / 1024.0));
        if series.rejected[m] > 0.0 {
            points.push(point(Metric::WriteProvisionedThroughputExceeded, m, series.rejected[m]));
        }
    }
    cloudwatch.put_metric_data(&points).await.expect("put metric data");
}

/// What the simulator says run directly on `series` (none: the idle stream) published from
/// `first`, over `window`, with `policy`, from the stream's 2 shards.
fn direct(
    name: &str,
    series: Option<&Series>,
    first: DateTime<Utc>,
    window: HistoryWindow,
    policy: &planner::Policy,
) -> (simulator::history::Replayable, WhatIf) {
    let sums = |f: &dyn Fn(&Series, usize) -> Option<f64>| -> Vec<Option<f64>> {
        let points: Vec<_> = series
            .map(|s| {
                (0..MINUTES).filter_map(|m| Some((first + TimeDelta::minutes(m as i64), f(s, m)?))).collect()
            })
            .unwrap_or_default();
        window.align(&points)
    };
    let history = History {
        stream: name.to_owned(),
        bytes: sums(&|s, m| Some(s.bytes_per_sec[m] * 60.0)),
        records: sums(&|s, m| Some(s.bytes_per_sec[m] * 60.0 / 1024.0)),
        throttled: sums(&|s, m| (s.rejected[m] > 0.0).then_some(s.rejected[m])),
        window,
        shards: 2,
    };
    let replay = replayable(&history).expect("replayable");
    let whatif = WhatIf::run(&replay, policy, Mode::Provisioned).expect("simulate");
    (replay, whatif)
}

/// `start` and `end` of a JSON object, as times.
fn span(v: &serde_json::Value) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}")).parse().expect("a time");
    (at("start"), at("end"))
}

#[tokio::test]
async fn whatif_replays_each_streams_history_as_the_simulator_does_and_status_gives_the_same_advice() {
    let clients = emulator_clients().await;
    let (streams, cloudwatch) = (clients.streams(), clients.cloudwatch());
    let cli = Cli::new();
    let run = unique_name("whatif");
    let names = ["steady", "spiky", "idle"].map(|kind| format!("{run}-{kind}"));
    // 1-minute scale-down periods over an hour: `status` replays whole minutes of a young stream.
    let specs: Vec<String> = names
        .iter()
        .map(|n| {
            format!("{{name: {n}, desiredShards: 2, scaleDown: {{periodMinutes: 1, lookbackHours: 1}}}}")
        })
        .collect();
    cli.write_config(&specs);
    cli.expect(0, &["apply"]);
    let mut first = DateTime::<Utc>::MIN_UTC;
    for name in &names {
        settle(&streams, name).await;
        let created = streams.describe(name).await.expect("describe").created;
        first = first.max(align_down(created + TimeDelta::seconds(59), 60));
    }
    let series = [
        Series { bytes_per_sec: [1.0 * MIB; MINUTES], rejected: [0.0; MINUTES] },
        // 95 % of 2 shards for a minute, with records rejected, then 10 %.
        Series { bytes_per_sec: [1.9 * MIB, 0.2 * MIB], rejected: [500.0, 0.0] },
    ];
    // Published ahead (the emulator, like CloudWatch, takes timestamps in the near future), so the
    // calls overlap the wait instead of adding to it.
    for (name, s) in names.iter().zip(&series) {
        publish(&cloudwatch, name, first, s).await;
    }
    // The history's minutes must all have begun and ended before the command reads them.
    let ready = first + TimeDelta::minutes(MINUTES as i64) + TimeDelta::seconds(2);
    if let Ok(wait) = (ready - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }

    let started = std::time::Instant::now();
    let out = cli.path("whatif-out");
    let output = cli.expect(0, &["--output", "json", "whatif", "--days", "1", "--out", &out]);
    let took = started.elapsed();
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", transcript(&output)));
    assert_eq!((doc["kind"].as_str(), doc["version"].as_u64()), (Some("streams-whatif"), Some(1)));
    // Three series a stream of a day's minutes (1,440 points): 70 series a call, one call for all.
    assert_eq!(doc["get_metric_data_calls"], 1, "{doc:#}");
    let config =
        streamspec::parse("streams.yaml", &std::fs::read_to_string(cli.path("streams.yaml")).unwrap())
            .expect("the test's file is valid");
    for (i, name) in names.iter().enumerate() {
        let report = doc["streams"].as_array().unwrap().iter().find(|r| r["stream"] == name.as_str());
        let report = report.unwrap_or_else(|| panic!("{name} missing from {doc:#}"));
        assert_eq!(report["get_metric_data_calls"], 1);
        assert_eq!(report["younger_than_window"], true);
        let (start, end) = span(report);
        let window = HistoryWindow { start, end, period_secs: 60, younger_than_window: true };
        // The same series, handed to the simulator directly.
        let policy = &config.stream(name).unwrap().policy;
        let (replay, direct) = direct(name, series.get(i), first, window, policy);
        for (key, run) in direct.runs() {
            let got = &report[key];
            assert_eq!(got["max_shards"], run.max_shards, "{name} {key}");
            for field in ["shard_hours", "monthly_cost", "throttled_records", "mean_shards"] {
                let (got, want) = (
                    got[field].as_f64().unwrap(),
                    serde_json::to_value(&run).unwrap()[field].as_f64().unwrap(),
                );
                assert!(
                    (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                    "{name} {key}.{field}: {got} vs {want}"
                );
            }
        }
        assert_eq!(report["advice"]["reason"], direct.advice.reason.as_str(), "{name}");
        assert_eq!(report["gaps"], replay.gaps);
        eprintln!(
            "{name}: {} GetMetricData call(s); advice: {}",
            report["get_metric_data_calls"], report["advice"]["reason"]
        );
        assert!(std::path::Path::new(&out).join(format!("{name}.svg")).exists());
    }
    let steady =
        doc["streams"].as_array().unwrap().iter().find(|r| r["stream"] == names[0].as_str()).unwrap();
    assert_eq!(
        (steady["rejected_records"].as_u64(), steady["demand_is_lower_bound"].as_bool()),
        (Some(0), Some(false))
    );
    let spiky = doc["streams"].as_array().unwrap().iter().find(|r| r["stream"] == names[1].as_str()).unwrap();
    assert_eq!(
        (spiky["rejected_records"].as_u64(), spiky["demand_is_lower_bound"].as_bool()),
        (Some(500), Some(true))
    );
    let idle = doc["streams"].as_array().unwrap().iter().find(|r| r["stream"] == names[2].as_str()).unwrap();
    assert_eq!(idle["gaps"].as_u64(), idle["hours"].as_f64().map(|h| (h * 60.0).round() as u64));
    let page = std::fs::read_to_string(std::path::Path::new(&out).join("whatif.md")).expect("whatif.md");
    assert!(names.iter().all(|n| page.contains(&format!("![{n}]({n}.svg)"))), "{page}");
    eprintln!("streams whatif over 3 streams took {took:?}");

    // `streams status` reads the same minutes as its look-back (one hour of 1-minute sums, cut at
    // each stream's first whole minute) in the sweep's batched call, and prints whatif's advice.
    // Only this test's streams: the emulator's others (other tests') cost reads, not evidence.
    let prefix = format!("{run}-");
    let output = cli.expect(0, &["--output", "json", "status", "--prefix", &prefix]);
    let status: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", transcript(&output)));
    assert_eq!(status["streams"].as_array().map(Vec::len), Some(3), "{status:#}");
    let text = stdout(&cli.expect(0, &["status", "--prefix", &prefix]));
    for (i, name) in names.iter().enumerate() {
        let review = status["streams"].as_array().unwrap().iter().find(|r| r["stream"] == name.as_str());
        let review = review.unwrap_or_else(|| panic!("{name} missing from {status:#}"));
        let advice = &review["mode_advice"];
        assert!(advice.is_object(), "{name}: {review:#}");
        let (start, end) = span(advice);
        assert_eq!(advice["lookback_hours"], 1.0, "{name}");
        let window = HistoryWindow { start, end, period_secs: 60, younger_than_window: true };
        let policy = &config.stream(name).unwrap().policy;
        let (_, direct) = direct(name, series.get(i), first, window, policy);
        assert_eq!(advice["reason"], direct.advice.reason.as_str(), "{name}");
        assert_eq!(advice["mode"], serde_json::to_value(direct.advice.mode).unwrap(), "{name}");
        assert_eq!(advice["switch"], direct.advice.switch, "{name}");
        let difference = advice["monthly_difference"].as_f64().unwrap();
        assert!((difference - direct.advice.monthly_difference).abs() < 1e-9, "{name}: {difference}");
        let report =
            doc["streams"].as_array().unwrap().iter().find(|r| r["stream"] == name.as_str()).unwrap();
        if span(report) == (start, end) {
            assert_eq!(advice["reason"], report["advice"]["reason"], "{name}: whatif's advice, same minutes");
        }
        let line = text.lines().find(|l| l.starts_with(&format!("mode: {name} ")));
        let line = line.unwrap_or_else(|| panic!("no mode line for {name}\n{text}"));
        assert!(
            line.starts_with(&format!("mode: {name} {}: ", direct.advice.action()))
                && line.contains(" min since it was created, not the 1 h look-back"),
            "{line}"
        );
        eprintln!("{line}");
    }
    for name in &names {
        remove(&clients, name).await;
    }
}
