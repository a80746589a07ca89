//! How many AWS requests a decision cost, for the EMF `AwsCalls` metric.
//!
//! The count lives in the SDK clients (`aws_adapters::AwsClients::requests_sent`, an interceptor
//! that sees retries and pages too), which a handler generic over its ports does not know of; the
//! binary hands it a reader of that count instead, and tests one that reads zero.

use std::fmt;

/// A reader of the requests sent so far: read before and after a piece of work.
pub struct AwsCalls(Box<dyn Fn() -> u64 + Send + Sync>);

impl AwsCalls {
    pub fn new(read: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        AwsCalls(Box::new(read))
    }

    /// For ports that are not AWS (tests): always zero.
    pub fn uncounted() -> Self {
        AwsCalls::new(|| 0)
    }

    /// The requests sent so far.
    pub fn sent(&self) -> u64 {
        (self.0)()
    }
}

impl fmt::Debug for AwsCalls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AwsCalls({})", self.sent())
    }
}
