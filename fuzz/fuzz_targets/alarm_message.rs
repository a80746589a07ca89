//! An SNS alarm message is written by whoever may publish to the topic: parsing it, and reading
//! what the handler reads from it, must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reconciler::alarm_message::AlarmMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(message) = AlarmMessage::parse(text) {
        let _ = (message.stream(), message.shard(), message.metric_name(), message.trigger_key());
        let _ = message.quoted();
    }
});
