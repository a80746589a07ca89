//! SNS: what is published to a topic reaches its subscriber after the delivery latency, at least
//! once (the model's chance of a second copy a second later), and is kept in the order it was
//! published for tests to read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reconciler::{ContinuationPort, PortError};

use crate::model::Model;
use crate::world::{Rng, World};

/// One message on its way to a topic's subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub topic: String,
    /// The message as published (an alarm notification's JSON, a continuation).
    pub message: String,
    /// When it reaches the subscriber.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub(crate) struct Sns {
    /// By delivery time, then publication order.
    outbox: BTreeMap<(DateTime<Utc>, u64), Delivery>,
    next: u64,
    /// Every message published, `(topic, message)`, oldest first.
    published: Vec<(String, String)>,
}

impl Sns {
    /// Publishes `message` to `topic` at `at`: one delivery after the latency, sometimes two.
    pub(crate) fn publish(
        &mut self,
        topic: &str,
        message: &str,
        at: DateTime<Utc>,
        model: &Model,
        rng: &mut Rng,
    ) {
        self.published.push((topic.to_owned(), message.to_owned()));
        let latency = chrono::Duration::from_std(model.notify_latency).unwrap_or(chrono::Duration::MAX);
        let copies = if model.duplicate_deliveries > 0.0 && rng.fraction() < model.duplicate_deliveries {
            2
        } else {
            1
        };
        for copy in 0..copies {
            let at = at + latency + chrono::Duration::seconds(copy);
            let delivery = Delivery { topic: topic.to_owned(), message: message.to_owned(), at };
            self.outbox.insert((at, self.next), delivery);
            self.next += 1;
        }
    }

    /// The deliveries to `topic` due by `now`, in order, taken out of the outbox.
    pub(crate) fn take_due(&mut self, topic: &str, now: DateTime<Utc>) -> Vec<Delivery> {
        let due: Vec<(DateTime<Utc>, u64)> = self
            .outbox
            .range(..=(now, u64::MAX))
            .filter(|(_, d)| d.topic == topic)
            .map(|(key, _)| *key)
            .collect();
        due.into_iter().filter_map(|key| self.outbox.remove(&key)).collect()
    }

    /// When the next delivery to any topic falls due.
    pub(crate) fn next_due(&self) -> Option<DateTime<Utc>> {
        self.outbox.keys().next().map(|(at, _)| *at)
    }
}

impl World {
    /// The deliveries to `topic` due by now, in order; each is handed out once.
    pub fn take_deliveries(&self, topic: &str) -> Vec<Delivery> {
        let now = self.now();
        self.lock().sns.take_due(topic, now)
    }

    /// When the next delivery to any topic falls due.
    pub fn next_delivery(&self) -> Option<DateTime<Utc>> {
        self.lock().sns.next_due()
    }

    /// Every message published so far, as `(topic, message)`, oldest first.
    pub fn published(&self) -> Vec<(String, String)> {
        self.lock().sns.published.clone()
    }
}

impl ContinuationPort for World {
    async fn publish(&self, topic: &str, message: &str) -> Result<(), PortError> {
        self.call_delay(false).await;
        let now = self.now();
        let mut state = self.lock();
        state.request("Publish");
        state.fault("Publish")?;
        let model = self.model().clone();
        let crate::world::State { sns, rng, .. } = &mut *state;
        sns.publish(topic, message, now, &model, rng);
        Ok(())
    }
}
