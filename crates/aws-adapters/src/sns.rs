//! [`reconciler::ContinuationPort`] with SNS: the scale-down Lambda's continuation topic.

use reconciler::{ContinuationPort, PortError};

/// SNS topics over one SDK client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SnsTopics {
    client: aws_sdk_sns::Client,
}

impl SnsTopics {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        SnsTopics { client }
    }
}

impl ContinuationPort for SnsTopics {
    async fn publish(&self, topic: &str, message: &str) -> Result<(), PortError> {
        self.client
            .publish()
            .topic_arn(topic)
            .message(message)
            .send()
            .await
            .map(drop)
            .map_err(|e| crate::errors::port_error("Publish", None, e))
    }
}
