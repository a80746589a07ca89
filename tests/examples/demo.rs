//! The README's demo: one stream taken through a cold day and a hot spell on the local emulator,
//! every decision made by the real core and carried out through the real adapters.
//!
//! Kinesis in the emulator publishes no CloudWatch metrics, so the demo publishes the datapoints
//! Kinesis would (and says so). The stream is seconds old, so the demo also back-dates its creation
//! time for the scale-down rule, which otherwise refuses streams younger than the look-back window.
//! Exits non-zero if any step does not happen as expected.

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use aws_adapters::{AwsClients, CloudWatch, KinesisStreams};
use chrono::{DateTime, Duration, DurationRound, Utc};
use emulator_tests::{ACCOUNT, REGION, emulator_clients, endpoint, unique_name};
use planner::{
    ALARM_NAME_PREFIX, KINESIS_NAMESPACE, LoadSnapshot, Metric, Policy, Rate, ScaleDownInput, ScaleUpInput,
    alarm_specs, plan_scale_down, plan_scale_up,
};
use reconciler::{
    AlarmPort, Dimension, ExecuteSettings, MetricPoint, MetricsPort, Outcome, SeededJitter, StreamPort, Unit,
    execute_scale_down, execute_scale_up, load_series, peak_rate, wait_for_active,
};

struct Demo {
    started: Instant,
    streams: KinesisStreams,
    cloudwatch: CloudWatch,
    stream: String,
    policy: Policy,
    topic: String,
}

#[tokio::main]
async fn main() {
    if let Err(err) = demo().await {
        eprintln!("demo failed: {err:#}");
        std::process::exit(1);
    }
}

async fn demo() -> Result<()> {
    let spec = streamspec::load("streams.yaml".as_ref()).context("streams.yaml")?;
    let orders = spec.streams.first().context("streams.yaml lists no stream")?;
    let clients: AwsClients = emulator_clients().await;
    let demo = Demo {
        started: Instant::now(),
        streams: clients.streams(),
        cloudwatch: clients.cloudwatch(),
        stream: unique_name(&format!("demo-{}", orders.name)),
        policy: orders.policy.clone(),
        topic: format!("arn:aws:sns:{REGION}:{ACCOUNT}:kinesis-autoscaler-demo"),
    };
    println!("kinesis-autoscaler demo against the local emulator at {}", endpoint());
    demo.say(&format!(
        "policy of {:?} from streams.yaml: {}..={} shards, scale up at {:.0}% (to {:.0}%), down under {:.0}%",
        orders.name.as_str(),
        demo.policy.min_shards,
        demo.policy.max_shards,
        demo.policy.scale_up.threshold.percent(),
        demo.policy.scale_up.target.percent(),
        demo.policy.scale_down.threshold.percent(),
    ));
    let result = demo.run(orders.desired_shards).await;
    demo.clean_up().await;
    result
}

impl Demo {
    fn say(&self, line: &str) {
        println!("[{:>5.1}s] {line}", self.started.elapsed().as_secs_f64());
    }

    async fn run(&self, desired: u32) -> Result<()> {
        let s = &self.stream;
        self.streams.create_stream(s, desired).await?;
        let created = self.settle().await?;
        self.say(&format!("created {s} with {desired} shards"));
        self.arm(desired).await?;

        println!("\n-- a cold day: the 36-hour scale-down cycle --");
        let now = Utc::now();
        let minutes = self.policy.scale_down.lookback_secs / 60;
        self.publish(now, minutes, Rate::capacity_of(desired).scaled(0.12)).await?;
        self.say(&format!(
            "published {minutes} one-minute datapoints per metric at 12% of capacity (what Kinesis would publish)"
        ));
        let period = self.policy.scale_down.period_secs;
        let lookback = Duration::seconds(i64::from(self.policy.scale_down.lookback_secs));
        let series = load_series(&self.cloudwatch, s, period, now - lookback, now).await?;
        let plan = plan_scale_down(ScaleDownInput {
            stream: s,
            tiling: created.tiling().context("ACTIVE stream lists its shards")?,
            policy: &self.policy,
            now,
            stream_load: &series,
            shard_load: &Default::default(),
            young: &Default::default(),
            last_scaled_at: None,
            // The emulator created the stream seconds ago; treat it as old as its back-dated metrics.
            created_at: created.created - Duration::days(2),
            update_calls_last_24h: 0,
        });
        plan.reasons.iter().for_each(|r| self.say(&format!("plan: {r}")));
        let outcome = execute_scale_down(
            &self.streams,
            s,
            &plan,
            &self.settings(),
            &mut SeededJitter::new(7),
            self.deadline(),
        )
        .await?;
        let merged = self.report(&outcome, desired)?;
        ensure!(merged < desired, "the cold stream was not scaled down");
        self.arm(merged).await?;

        println!("\n-- a hot spell: the alarm-driven scale-up --");
        let now = Utc::now();
        self.publish(now, 5, Rate::capacity_of(merged).scaled(1.5)).await?;
        self.say(&format!(
            "published 5 one-minute datapoints at 150% of capacity: the {} alarm fires",
            Metric::IncomingBytes.as_str()
        ));
        let up = self.policy.scale_up.period_secs;
        let series = load_series(&self.cloudwatch, s, up, now - Duration::minutes(10), now).await?;
        let load = LoadSnapshot { stream: peak_rate(&series), ..LoadSnapshot::default() };
        let (grown, needed) = self.scale_up(&load, merged).await?;
        ensure!(grown >= needed.min(self.policy.max_shards), "the hot stream did not reach {needed} shards");
        self.arm(grown).await?;

        println!("\n-- a hot key: a shard-level alarm names one shard --");
        let live = self.settle().await?;
        let tiling = live.tiling().context("ACTIVE stream lists its shards")?;
        let hot_shard = tiling.shards()[0].id.clone();
        self.say(&format!("the stream is at 40% overall, but {hot_shard} is hot"));
        let load = LoadSnapshot {
            stream: Rate::capacity_of(grown).scaled(0.4),
            hot: [hot_shard.clone()].into(),
            ..LoadSnapshot::default()
        };
        let (split, _) = self.scale_up(&load, grown).await?;
        ensure!(split == grown + 1, "the hot shard {hot_shard} was not split");
        self.arm(split).await?;
        println!(
            "\ndone: {desired} -> {merged} -> {grown} -> {split} shards in {:.1}s",
            self.started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Plans and executes until the plan is empty, as successive alarms would: one uniform call
    /// reaches at most twice the open count, so a bigger need takes more than one round.
    async fn scale_up(&self, load: &LoadSnapshot, before: u32) -> Result<(u32, u32)> {
        let (mut open, mut needed) = (before, 0);
        for update_calls in 0..planner::UPDATE_SHARD_COUNT_CALLS_PER_DAY {
            let live = self.settle().await?;
            let tiling = live.tiling().context("ACTIVE stream lists its shards")?;
            let input =
                ScaleUpInput { tiling, load, policy: &self.policy, update_calls_last_24h: update_calls };
            let plan = plan_scale_up(input);
            plan.reasons.iter().for_each(|r| self.say(&format!("plan: {r}")));
            needed = plan.needed_shards;
            if plan.action == planner::ScaleUpAction::None {
                break;
            }
            let outcome = execute_scale_up(
                &self.streams,
                &self.stream,
                &plan,
                &self.settings(),
                &mut SeededJitter::new(7),
                self.deadline(),
            )
            .await?;
            open = self.report(&outcome, open)?;
        }
        Ok((open, needed))
    }

    fn settings(&self) -> ExecuteSettings {
        ExecuteSettings { poll: std::time::Duration::from_millis(100), ..ExecuteSettings::default() }
    }

    fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + std::time::Duration::from_secs(120)
    }

    async fn settle(&self) -> Result<reconciler::StreamSnapshot> {
        let (timeout, poll) = (std::time::Duration::from_secs(60), std::time::Duration::from_millis(100));
        Ok(wait_for_active(&self.streams, &self.stream, timeout, poll, |_, _| {}).await?)
    }

    /// Prints what an execution did and returns the open shard count it left.
    fn report(&self, outcome: &Outcome, before: u32) -> Result<u32> {
        ensure!(outcome.complete, "execution stopped early: {:?}", outcome.why_incomplete);
        for step in &outcome.steps {
            self.say(&format!("executed {step}"));
        }
        let after = outcome.last.tiling().context("ACTIVE stream lists its shards")?.len();
        self.say(&format!("{before} -> {after} open shards, ACTIVE"));
        Ok(after)
    }

    /// Writes the alarms for `shards` open shards and reads their thresholds back.
    async fn arm(&self, shards: u32) -> Result<()> {
        for spec in alarm_specs(&self.stream, shards, &self.policy, std::slice::from_ref(&self.topic)) {
            self.cloudwatch.put_alarm(&spec).await?;
        }
        let alarms = self.cloudwatch.describe_alarms(&format!("{ALARM_NAME_PREFIX}{}-", self.stream)).await?;
        let thresholds: Vec<String> = alarms
            .iter()
            .map(|a| {
                let op = match a.comparison.as_deref() {
                    Some("GreaterThanThreshold") => ">",
                    _ => ">=",
                };
                format!("{} {op} {}", a.metric.as_deref().unwrap_or("?"), a.threshold.unwrap_or_default())
            })
            .collect();
        self.say(&format!("alarms armed for {shards} shard(s): {}", thresholds.join(", ")));
        Ok(())
    }

    /// Publishes `minutes` one-minute `Sum` datapoints of both metrics at `rate`, ending before
    /// `now`, as Kinesis does for every stream (the emulator's Kinesis publishes none).
    async fn publish(&self, now: DateTime<Utc>, minutes: u32, rate: Rate) -> Result<()> {
        let period = Duration::minutes(1);
        let newest = now.duration_trunc(period)? - period;
        let mut points = Vec::new();
        for i in 0..minutes {
            let timestamp = newest - period * i as i32;
            for (metric, value, unit) in [
                (Metric::IncomingBytes, rate.bytes_per_sec * 60.0, Unit::Bytes),
                (Metric::IncomingRecords, rate.records_per_sec * 60.0, Unit::Count),
            ] {
                points.push(MetricPoint {
                    namespace: KINESIS_NAMESPACE.into(),
                    metric: metric.as_str().into(),
                    dimensions: vec![Dimension::stream(&self.stream)],
                    timestamp,
                    value,
                    unit,
                });
            }
        }
        Ok(self.cloudwatch.put_metric_data(&points).await?)
    }

    /// Leaves nothing behind: the stream and its alarms.
    async fn clean_up(&self) {
        let prefix = format!("{ALARM_NAME_PREFIX}{}-", self.stream);
        if let Ok(alarms) = self.cloudwatch.describe_alarms(&prefix).await {
            let names: Vec<String> = alarms.into_iter().map(|a| a.name).collect();
            let _ = self.cloudwatch.delete_alarms(&names).await;
        }
        let _ = self.streams.delete_stream(&self.stream).await;
    }
}
