//! The writers: real records into a stream at a steady rate, and the metrics Kinesis would publish
//! for them.
//!
//! The emulator's Kinesis stores records but publishes no `AWS/Kinesis` metrics, so without the
//! second half no alarm could ever fire. Every second a [`Writer`] puts its records with
//! `PutRecord` (distinct partition keys, so they spread over every shard's hash range), counts what
//! Kinesis accepted, and publishes exactly that as the one-second `IncomingBytes` and
//! `IncomingRecords` Sums (CloudWatch adds them up per alarm period, as it does for Kinesis's own).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_adapters::{AwsClients, CloudWatch};
use chrono::Utc;
use futures_util::future::join_all;
use planner::{KINESIS_NAMESPACE, Metric};
use reconciler::{Dimension, Io, IoPolicy, MetricPoint, MetricPublisher, SystemClock, Unit};

pub const MIB: f64 = 1_048_576.0;

/// What a writer has done so far.
#[derive(Debug, Clone)]
pub struct Written {
    pub started: Instant,
    pub records: u64,
    pub bytes: u64,
    /// Records Kinesis refused, and the first refusal.
    pub refused: u64,
    pub first_refusal: Option<String>,
    /// When its first datapoint reached CloudWatch.
    pub first_datapoint: Option<Instant>,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
}

impl Written {
    /// The rate Kinesis accepted since the writer started, in MiB/s.
    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / MIB / self.started.elapsed().as_secs_f64()
    }
}

/// A background task writing `records_per_sec` records of `record_bytes` bytes each second.
#[derive(Debug)]
pub struct Writer {
    pub stream: String,
    written: Arc<Mutex<Written>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    pub fn start(clients: &AwsClients, stream: &str, records_per_sec: u32, record_bytes: usize) -> Writer {
        let written = Arc::new(Mutex::new(Written {
            started: Instant::now(),
            records: 0,
            bytes: 0,
            refused: 0,
            first_refusal: None,
            first_datapoint: None,
            error: None,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let load = Load {
            clients: clients.clone(),
            // The emulator's CloudWatch now and then fails a write under load: retried as the
            // tool's own calls are, by the one I/O policy.
            cloudwatch: Io::new(clients.cloudwatch(), Arc::new(IoPolicy::new(Arc::new(SystemClock)))),
            stream: stream.to_owned(),
            payload: vec![b'x'; record_bytes],
            per_second: records_per_sec,
        };
        let task = tokio::spawn(run(load, written.clone(), stop.clone()));
        Writer { stream: stream.to_owned(), written, stop, task }
    }

    pub fn written(&self) -> Written {
        self.written.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Stops after the current second and returns the totals.
    pub async fn stop(self) -> Written {
        self.stop.store(true, Ordering::Relaxed);
        let written = self.written.clone();
        let _ = self.task.await;
        written.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// What a writer puts: `per_second` copies of `payload` a second into `stream`.
struct Load {
    clients: AwsClients,
    cloudwatch: Io<CloudWatch>,
    stream: String,
    payload: Vec<u8>,
    per_second: u32,
}

async fn run(load: Load, written: Arc<Mutex<Written>>, stop: Arc<AtomicBool>) {
    let started = Instant::now();
    let mut every_second = tokio::time::interval(Duration::from_secs(1));
    every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        every_second.tick().await;
        // Keep to the rate when a second's calls take longer than a second (a busy emulator):
        // catch up, by at most one more second's worth at a time.
        let due = ((started.elapsed().as_secs_f64() + 1.0) * f64::from(load.per_second)) as u64;
        let count = due.saturating_sub(sent).min(2 * u64::from(load.per_second));
        let result = load.put(sent, count).await;
        sent += count;
        let mut written = written.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(Second { records, bytes, refused }) => {
                written.records += records;
                written.bytes += bytes;
                if let Some(why) = refused {
                    written.refused += count - records;
                    written.first_refusal.get_or_insert(why);
                }
                written.first_datapoint.get_or_insert_with(Instant::now);
            }
            Err(error) => {
                written.error = Some(error);
                return;
            }
        }
    }
}

impl Load {
    /// Puts `count` records at once, then publishes what Kinesis accepted as this second's Sums.
    async fn put(&self, sent: u64, count: u64) -> Result<Second, String> {
        let at = Utc::now();
        let puts = (0..count).map(|i| {
            self.clients
                .kinesis
                .put_record()
                .stream_name(&self.stream)
                .partition_key(format!("key-{}", sent + i))
                .data(self.payload.clone().into())
                .send()
        });
        let answers = join_all(puts).await;
        let accepted = answers.iter().filter(|answer| answer.is_ok()).count() as u64;
        let refused =
            answers.into_iter().find_map(Result::err).map(|e| format!("{:?}", e.into_service_error()));
        let bytes = accepted * self.payload.len() as u64;
        let point = |metric: Metric, value: u64, unit| MetricPoint {
            namespace: KINESIS_NAMESPACE.into(),
            metric: metric.as_str().into(),
            dimensions: vec![Dimension::stream(&self.stream)],
            timestamp: at,
            value: value as f64,
            unit,
        };
        let points = [
            point(Metric::IncomingBytes, bytes, Unit::Bytes),
            point(Metric::IncomingRecords, accepted, Unit::Count),
        ];
        self.cloudwatch.put_metric_data(&points).await.map_err(|e| format!("{}: {e}", self.stream))?;
        Ok(Second { records: accepted, bytes, refused })
    }
}

/// What one second's puts achieved.
struct Second {
    records: u64,
    bytes: u64,
    refused: Option<String>,
}
