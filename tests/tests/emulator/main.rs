//! Integration tests against the local AWS emulator (`scripts/emulator start`).
//!
//! One test binary (modules below) so the SDK and adapters are linked once. Each test creates
//! uniquely named resources; they run in parallel against the one emulator.

mod cli;
mod common;
mod errors;
mod faults;
mod pause;
mod predict;
mod readers;
mod scale_down;
mod scale_up;
mod settings;
mod smoke;
mod whatif;

use std::time::Duration;

use reconciler::{ActiveStream, StreamReader, wait_for_active};

/// Emulated reshards take `KINESIS_LATENCY` (200 ms in `scripts/emulator`); allow generous slack
/// for a loaded 2-core machine.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const POLL: Duration = Duration::from_millis(100);

/// Waits for `stream` to be ACTIVE, logging each status change.
pub async fn settle(port: &impl StreamReader, stream: &str) -> ActiveStream {
    let mut last = None;
    wait_for_active(port, &reconciler::SystemClock, stream, SETTLE_TIMEOUT, POLL, |status, elapsed| {
        if last != Some(status) {
            eprintln!("{stream}: {status} after {elapsed:?}");
            last = Some(status);
        }
    })
    .await
    .unwrap_or_else(|e| panic!("waiting for {stream} to become ACTIVE: {e}"))
}
