//! Hash keys come from ListShards (and, in plans, from files): parsing any text and cutting any
//! range into any number of parts must not panic or allocate beyond the shard quota, and the cuts
//! must lie strictly inside the range, ascending.
#![no_main]

use libfuzzer_sys::fuzz_target;
use planner::{HashKey, HashRange, MAX_SHARDS_PER_STREAM};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut words = text.split(' ');
    let (Some(start), Some(end)) = (words.next(), words.next()) else {
        let _ = text.parse::<HashKey>();
        return;
    };
    let parts = words.next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(2);
    let Ok(range) = HashRange::parse(start, end) else { return };
    let cuts = range.equal_cuts(parts);
    assert!(cuts.len() < MAX_SHARDS_PER_STREAM as usize);
    assert!(cuts.windows(2).all(|w| w[0] < w[1]), "{cuts:?}");
    assert!(cuts.iter().all(|c| range.can_split_at(*c)), "{range} {cuts:?}");
    let _ = range.midpoint();
});
