//! SNS → Lambda over loopback: an HTTP subscriber that hands each notification to a [`LocalLambda`].
//!
//! In AWS, a topic with a Lambda subscription invokes the function itself, wrapping the message
//! in an `SnsEvent`. The emulator has no Lambda service, but it does deliver to HTTP subscribers,
//! so [`SnsBridge`] is one: it confirms the subscription (GETs the `SubscribeURL`, as any HTTP
//! subscriber must), then wraps every notification the way Lambda's SNS trigger does and invokes
//! the local function, one event at a time (a reserved concurrency of 1). Every delivery is
//! recorded with the function's answer, so a test can see exactly what SNS sent and what the
//! function made of it.

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aws_adapters::AwsClients;
use serde_json::{Value, json};
use tiny_http::{Request, Response, Server};

use crate::lambda::{Invocation, LocalLambda};
use crate::shared::TICK;

/// Bound on the confirmation GET.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP POST from SNS, and what became of it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `x-amz-sns-message-type`: `SubscriptionConfirmation`, `Notification`, …
    pub message_type: String,
    pub received: Instant,
    /// The HTTP body: SNS's JSON envelope.
    pub envelope: Value,
    /// For a notification, the function's answer once it has one (`Err` if it never answered);
    /// for a confirmation, `Ok(Null)` once the `SubscribeURL` was fetched.
    pub outcome: Option<Result<Invocation, String>>,
}

impl Delivery {
    /// The alarm notification inside the envelope (`Message`), parsed, if it is JSON.
    pub fn message(&self) -> Option<Value> {
        self.envelope["Message"].as_str().and_then(|m| serde_json::from_str(m).ok())
    }
}

/// An HTTP endpoint on `127.0.0.1` subscribed to an SNS topic, forwarding to a local Lambda.
pub struct SnsBridge {
    shared: Arc<Shared>,
    server: Arc<Server>,
    address: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

type Shared = crate::shared::Shared<State>;

#[derive(Debug, Default)]
struct State {
    deliveries: Vec<Delivery>,
    /// Notifications waiting for the function: (index in `deliveries`, the `SnsEvent`).
    queue: VecDeque<(usize, Value)>,
    confirmed: bool,
}

impl SnsBridge {
    /// Listens on `127.0.0.1:<free port>` and forwards notifications to `lambda`.
    ///
    /// # Panics
    /// If the port cannot be bound.
    pub fn start(lambda: Arc<LocalLambda>) -> SnsBridge {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind the SNS bridge"));
        let address = server.server_addr().to_ip().expect("an IP listener");
        let shared = Arc::new(Shared::new(State::default()));
        let threads = vec![
            {
                let (server, shared) = (server.clone(), shared.clone());
                std::thread::spawn(move || serve(&server, &shared))
            },
            {
                let shared = shared.clone();
                std::thread::spawn(move || forward(&lambda, &shared))
            },
        ];
        SnsBridge { shared, server, address, threads }
    }

    /// The endpoint to subscribe (protocol `http`).
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Every POST received so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }

    /// Waits up to `timeout` for the subscription to be confirmed; `false` if it was not.
    pub fn wait_confirmed(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while !state.confirmed && Instant::now() < until {
            state = self.shared.wait(state);
        }
        state.confirmed
    }
}

impl std::fmt::Debug for SnsBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsBridge").field("url", &self.url()).finish_non_exhaustive()
    }
}

impl Drop for SnsBridge {
    fn drop(&mut self) {
        self.shared.stop();
        self.server.unblock();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Accepts SNS's POSTs: answers at once (SNS only needs a 2xx), confirms subscriptions, and
/// queues notifications for the forwarding thread.
fn serve(server: &Server, shared: &Shared) {
    while !shared.stopping() {
        let mut request = match server.recv_timeout(TICK) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(_) => break,
        };
        let message_type = header(&request, "x-amz-sns-message-type").unwrap_or_default();
        let subscription = header(&request, "x-amz-sns-subscription-arn");
        let mut body = String::new();
        let _ = request.as_reader().take(1 << 20).read_to_string(&mut body);
        let _ = request.respond(Response::empty(200));
        let envelope: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));

        let mut state = shared.lock();
        let index = state.deliveries.len();
        state.deliveries.push(Delivery {
            message_type: message_type.clone(),
            received: Instant::now(),
            envelope: envelope.clone(),
            outcome: None,
        });
        match message_type.as_str() {
            "SubscriptionConfirmation" => {
                drop(state);
                let outcome = confirm(&envelope);
                let mut state = shared.lock();
                state.confirmed |= outcome.is_ok();
                state.deliveries[index].outcome = Some(outcome.map(|()| Ok(Value::Null)));
            }
            "Notification" => {
                let event = lambda_event(&envelope, subscription.as_deref());
                state.queue.push_back((index, event));
            }
            _ => {}
        }
        shared.notify();
    }
}

/// Invokes the function with each queued notification in turn, recording its answer.
fn forward(lambda: &LocalLambda, shared: &Shared) {
    loop {
        let mut state = shared.lock();
        let (index, event) = loop {
            if shared.stopping() {
                return;
            }
            if let Some(next) = state.queue.pop_front() {
                break next;
            }
            state = shared.wait(state);
        };
        drop(state);
        let outcome = lambda.try_invoke(event);
        shared.lock().deliveries[index].outcome = Some(outcome);
        shared.notify();
    }
}

/// Confirms a subscription by fetching its `SubscribeURL`.
fn confirm(envelope: &Value) -> Result<(), String> {
    let url = envelope["SubscribeURL"].as_str().ok_or("the confirmation has no SubscribeURL")?;
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(CONFIRM_TIMEOUT)).proxy(None).build().into();
    agent.get(url).call().map(drop).map_err(|e| format!("GET {url}: {e}"))
}

/// The `SnsEvent` AWS Lambda receives for one SNS notification: the HTTP envelope's fields under
/// `Sns`, with the names Lambda uses (`SigningCertUrl`, `UnsubscribeUrl`, where HTTP subscribers
/// get `…URL`).
pub fn lambda_event(envelope: &Value, subscription_arn: Option<&str>) -> Value {
    let field = |name: &str| envelope.get(name).cloned().unwrap_or(Value::Null);
    let topic = envelope["TopicArn"].as_str().unwrap_or_default();
    let message_id = envelope["MessageId"].as_str().unwrap_or_default();
    let subscription = subscription_arn.map_or_else(|| format!("{topic}:{message_id}"), str::to_owned);
    json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription,
            "Sns": {
                "Type": field("Type"),
                "MessageId": field("MessageId"),
                "TopicArn": field("TopicArn"),
                "Subject": field("Subject"),
                "Message": field("Message"),
                "Timestamp": field("Timestamp"),
                "SignatureVersion": field("SignatureVersion"),
                "Signature": field("Signature"),
                "SigningCertUrl": field("SigningCertURL"),
                "UnsubscribeUrl": field("UnsubscribeURL"),
                "MessageAttributes": envelope.get("MessageAttributes").cloned().unwrap_or_else(|| json!({})),
            }
        }]
    })
}

fn header(request: &Request, name: &'static str) -> Option<String> {
    request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_owned())
}

/// An SNS topic on the emulator, deleted by [`Topic::delete`].
#[derive(Debug, Clone)]
pub struct Topic {
    pub arn: String,
}

impl Topic {
    /// Creates the topic `name`.
    ///
    /// # Panics
    /// If the emulator refuses.
    pub async fn create(clients: &AwsClients, name: &str) -> Topic {
        let created = clients.sns.create_topic().name(name).send().await;
        let created = created.unwrap_or_else(|e| panic!("create topic {name}: {e:?}"));
        Topic { arn: created.topic_arn().expect("CreateTopic returns the topic ARN").to_owned() }
    }

    /// Subscribes `bridge` (protocol `http`) and waits up to `timeout` for the confirmation.
    ///
    /// # Panics
    /// If the emulator refuses, or the confirmation does not arrive in time.
    pub async fn subscribe(&self, clients: &AwsClients, bridge: &SnsBridge, timeout: Duration) {
        let subscribed =
            clients.sns.subscribe().topic_arn(&self.arn).protocol("http").endpoint(bridge.url()).send().await;
        subscribed.unwrap_or_else(|e| panic!("subscribe {} to {}: {e:?}", bridge.url(), self.arn));
        // The bridge confirms on its own threads; wait without blocking this task's runtime.
        let until = Instant::now() + timeout;
        while !bridge.wait_confirmed(Duration::ZERO) {
            assert!(
                Instant::now() < until,
                "the subscription of {} to {} was not confirmed within {timeout:?}; deliveries: {:#?}",
                bridge.url(),
                self.arn,
                bridge.deliveries()
            );
            tokio::time::sleep(TICK).await;
        }
    }

    /// Deletes the topic and its subscriptions.
    ///
    /// # Panics
    /// If the emulator refuses.
    pub async fn delete(&self, clients: &AwsClients) {
        let deleted = clients.sns.delete_topic().topic_arn(&self.arn).send().await;
        deleted.unwrap_or_else(|e| panic!("delete topic {}: {e:?}", self.arn));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_is_wrapped_as_lambda_receives_it() {
        let envelope = json!({
            "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:000000000000:t",
            "Subject": "ALARM: x", "Message": "{\"a\":1}", "Timestamp": "2026-11-23T05:32:24.471Z",
            "SignatureVersion": "1", "Signature": "c2ln", "SigningCertURL": "http://127.0.0.1:4566/cert.pem",
            "UnsubscribeURL": "http://127.0.0.1:4566/?Action=Unsubscribe"
        });
        let event = lambda_event(&envelope, Some("arn:aws:sns:us-east-1:000000000000:t:sub"));
        let record = &event["Records"][0];
        assert_eq!(record["EventSource"], "aws:sns");
        assert_eq!(record["EventSubscriptionArn"], "arn:aws:sns:us-east-1:000000000000:t:sub");
        assert_eq!(record["Sns"]["Message"], "{\"a\":1}");
        assert_eq!(record["Sns"]["SigningCertUrl"], "http://127.0.0.1:4566/cert.pem");
        assert_eq!(record["Sns"]["UnsubscribeUrl"], "http://127.0.0.1:4566/?Action=Unsubscribe");
        assert_eq!(record["Sns"]["MessageAttributes"], json!({}));
    }
}
