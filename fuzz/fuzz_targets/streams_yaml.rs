//! `streams.yaml` is typed by people: any text gets a config or diagnostics, never a panic, and
//! every policy it accepts survives the tag the CLI writes from it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = streamspec::parse("fuzz.yaml", text) {
        for stream in &config.streams {
            let tag = planner::encode_policy(&stream.policy);
            assert_eq!(planner::decode_policy(&tag).as_ref(), Ok(&stream.policy), "{tag}");
        }
    }
});
