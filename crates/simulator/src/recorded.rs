//! A user's own traffic as a trace: `simulate --trace FILE.csv` replays it against every policy.
//!
//! The file is untrusted input, so it is read with a size limit, parsed without a panic or an
//! overflow, and bounded to what the model can run: at most [`MAX_ROWS`] minutes (31 days, the
//! longest committed trace may be) and at most [`MAX_SHARDS`] shards of demand in any minute (the
//! provisioned policies' ceiling: beyond it every one of them could only throttle).
//!
//! # Format
//!
//! ```text
//! minute,bytes_per_s,records_per_s,hot_key_share
//! 0,2097152,1024,0
//! 1,2202009,1075,0.05
//! ```
//!
//! * A header line is required: it names the optional fourth column, and it is what a
//!   spreadsheet exports. `hot_key_share` (the share of the minute's demand carried by one hot
//!   partition key, `0..=1`) may be left out of the header, and then out of every row.
//! * One row per minute, `minute` consecutive from 0: a gap is an error, not zero traffic,
//!   because CloudWatch exports leave out minutes it has no datapoint for, and whether that
//!   meant "no writes" or "no data" is the user's call, not ours.
//! * Rates are per second over the minute, non-negative and finite. CRLF line endings, a byte
//!   order mark, blank lines and spaces around fields are tolerated.
//! * Demand is flat within each minute (the file is the truth; see
//!   [`crate::trace::Source::Recorded`]).
//! * The model derives records from bytes at one record size per trace (see `lib.rs`): for a
//!   recording that is the file's mean, total bytes over total records, so `records_per_s` sets
//!   the record size (and with it which per-shard limit binds and the per-record price) but not
//!   a separate per-minute shape.
//!
//! Every problem is reported, each as `file:line: message`, up to [`MAX_PROBLEMS`].

use std::io::Read;
use std::path::Path;

use planner::SHARD_BYTES_PER_SEC;

use crate::assumptions::MAX_SHARDS;
use crate::trace::Trace;
use crate::{CsvProblem, SimError};

/// 31 days of minutes.
pub const MAX_ROWS: usize = 31 * 24 * 60;

/// Far above what [`MAX_ROWS`] rows of sane numbers take (~60 bytes each), so the limit only
/// stops hostile input before it is held in memory.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// After this many problems the file is clearly not a trace; more would only be noise.
pub const MAX_PROBLEMS: usize = 20;

const COLUMNS: [&str; 4] = ["minute", "bytes_per_s", "records_per_s", "hot_key_share"];

/// Reads and parses `path` (at most [`MAX_FILE_BYTES`]); the trace is named for the file's stem.
pub fn read(path: &Path) -> Result<Trace, SimError> {
    let file = path.display().to_string();
    let io = |source| SimError::Read { path: file.clone(), source };
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)).map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(SimError::TraceInvalid {
            trace: file,
            why: format!("larger than {} MiB, more than any 31 days of minutes", MAX_FILE_BYTES >> 20),
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count();
        SimError::Csv {
            file: file.clone(),
            problems: vec![CsvProblem { line, message: "not UTF-8 text".into() }],
        }
    })?;
    let name = path.file_stem().map_or_else(|| file.clone(), |s| s.to_string_lossy().into_owned());
    parse(&file, name, &text)
}

/// One validated minute: its rates and where it came from (a file's line; a history's period).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub line: usize,
    pub bytes: f64,
    pub records: f64,
    pub hot: f64,
}

/// The most bytes per second a minute may carry: the simulated maximum of shards, beyond which
/// every provisioned policy could only throttle.
pub const MAX_BYTES_PER_SEC: f64 = MAX_SHARDS as f64 * SHARD_BYTES_PER_SEC;

/// The most records per second a minute may carry, for the same reason.
pub const MAX_RECORDS_PER_SEC: f64 = MAX_SHARDS as f64 * planner::SHARD_RECORDS_PER_SEC;

/// What is wrong with `value` as a rate of at most `max` (`unit` follows the maximum in the
/// message), or `None`: the one check of a minute's numbers, for a file's fields and a
/// history's datapoints alike.
pub(crate) fn out_of_bounds(value: f64, max: f64, unit: &str) -> Option<String> {
    if !value.is_finite() || value < 0.0 {
        Some("must be finite and not negative".into())
    } else if value > max {
        Some(format!("must be at most {max}{unit}"))
    } else {
        None
    }
}

/// The record size standing in for the mean of a trace with no records at all (an idle stream's
/// history): nothing is billed or limited per record then, so any size gives the same replay.
const IDLE_RECORD_BYTES: f64 = 1024.0;

/// Parses the text of `file` into a trace called `name`.
pub fn parse(file: &str, name: String, text: &str) -> Result<Trace, SimError> {
    let mut problems = Vec::new();
    let rows = parse_rows(text, &mut problems);
    if !problems.is_empty() {
        return Err(SimError::Csv { file: file.to_owned(), problems });
    }
    let (bytes, records) = totals(&rows);
    if bytes <= 0.0 || records <= 0.0 {
        return Err(SimError::TraceInvalid {
            trace: file.to_owned(),
            why: "no bytes or no records written in the whole file: nothing to simulate".into(),
        });
    }
    from_minutes(file, name, &rows)
}

/// Total bytes and records per second over `rows`: at most the row count × the per-row maxima,
/// finite, no overflow.
fn totals(rows: &[Rate]) -> (f64, f64) {
    rows.iter().fold((0.0, 0.0), |(b, r), row| (b + row.bytes, r + row.records))
}

/// A trace from validated per-minute `rows` (each within [`MAX_BYTES_PER_SEC`] and
/// [`MAX_RECORDS_PER_SEC`]), with the checks that need the whole series: the mean record size,
/// then every minute within the simulated shards and a hot key within one shard. Problems name
/// each row's `line`. A file and a CloudWatch history ([`crate::history`]) both come here.
pub fn from_minutes(file: &str, name: String, rows: &[Rate]) -> Result<Trace, SimError> {
    let (bytes, records) = totals(rows);
    if bytes < records {
        return Err(SimError::TraceInvalid {
            trace: file.to_owned(),
            why: format!(
                "the mean record is {:.3} bytes: records_per_s exceeds bytes_per_s",
                bytes / records
            ),
        });
    }
    let record_bytes = if records > 0.0 { bytes / records } else { IDLE_RECORD_BYTES };
    let trace = Trace::recorded(
        file,
        name,
        rows.iter().map(|r| r.bytes).collect(),
        rows.iter().map(|r| r.hot).collect(),
        record_bytes,
    );
    let mut problems = Vec::new();
    for (m, row) in (0..trace.minutes()).zip(rows) {
        let units = trace.peak_units_in_minute(m);
        let problem = if units > f64::from(MAX_SHARDS) {
            format!(
                "this minute needs {units:.0} shards at the file's mean record size, more than the simulated {MAX_SHARDS}"
            )
        } else if trace.hot_key_shards(m) > 1.0 {
            format!(
                "the hot key alone needs {:.2} shards: no tiling can carry one key beyond one shard",
                trace.hot_key_shards(m)
            )
        } else {
            continue;
        };
        problems.push(CsvProblem { line: row.line, message: problem });
        if problems.len() == MAX_PROBLEMS {
            break;
        }
    }
    if problems.is_empty() { Ok(trace) } else { Err(SimError::Csv { file: file.to_owned(), problems }) }
}

/// The rows of `text`, every problem found pushed onto `problems` (at most [`MAX_PROBLEMS`]).
fn parse_rows(text: &str, problems: &mut Vec<CsvProblem>) -> Vec<Rate> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let header = match lines.next() {
        Some((_, h)) if !h.trim_start_matches('\u{feff}').is_empty() => h.trim_start_matches('\u{feff}'),
        _ => {
            problems.push(CsvProblem {
                line: 1,
                message: format!(
                    "empty file: expected the header `{}[,{}]`",
                    COLUMNS[..3].join(","),
                    COLUMNS[3]
                ),
            });
            return Vec::new();
        }
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let columns = names.len();
    if !(columns == 3 || columns == 4) || names[..] != COLUMNS[..columns] {
        problems.push(CsvProblem {
            line: 1,
            message: format!(
                "expected the header `{}` or `{}`, found `{header}`",
                COLUMNS[..3].join(","),
                COLUMNS.join(",")
            ),
        });
        return Vec::new();
    }
    let mut rows = Vec::new();
    let mut expected = 0u64;
    let mut last_line = 1;
    for (line, text) in lines {
        last_line = line;
        if text.is_empty() {
            continue;
        }
        if problems.len() >= MAX_PROBLEMS {
            return rows;
        }
        if rows.len() == MAX_ROWS {
            problems.push(CsvProblem {
                line,
                message: format!("more than {MAX_ROWS} rows (31 days of minutes)"),
            });
            return rows;
        }
        match parse_row(text, columns, expected) {
            Ok((minute, row)) => {
                expected = minute + 1;
                rows.push(Rate { line, ..row });
            }
            Err((minute, message)) => {
                // Resynchronise on the row's own minute, so one gap is one problem, not one per row.
                expected = minute.map_or(expected + 1, |m| m + 1);
                problems.push(CsvProblem { line, message });
            }
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(CsvProblem { line: last_line + 1, message: "no rows after the header".into() });
    }
    rows
}

/// One row's minute and rates, or its minute (if it had one) and what is wrong with it.
fn parse_row(text: &str, columns: usize, expected: u64) -> Result<(u64, Rate), (Option<u64>, String)> {
    let fields: Vec<&str> = text.split(',').map(str::trim).collect();
    if fields.len() != columns {
        return Err((None, format!("expected {columns} fields, found {}", fields.len())));
    }
    let minute: u64 = fields[0]
        .parse()
        .map_err(|_| (None, format!("`minute` must be a whole number, not `{}`", fields[0])))?;
    if minute != expected {
        return Err((
            Some(minute),
            format!(
                "minute {minute} where {expected} was expected: minutes are consecutive from 0, one row each"
            ),
        ));
    }
    let bounded = |i: usize, max: f64, unit: &str| -> Result<f64, (Option<u64>, String)> {
        let (name, value) = (COLUMNS[i], fields[i]);
        let bad = |why: String| (Some(minute), format!("`{name}` {why}, not `{value}`"));
        let v: f64 = value.parse().map_err(|_| bad("must be a number".into()))?;
        out_of_bounds(v, max, unit).map_or(Ok(v), |why| Err(bad(why)))
    };
    let shards = " (the simulated maximum of shards)";
    let bytes = bounded(1, MAX_BYTES_PER_SEC, shards)?;
    let records = bounded(2, MAX_RECORDS_PER_SEC, shards)?;
    let hot = if columns == 4 { bounded(3, 1.0, "")? } else { 0.0 };
    Ok((minute, Rate { line: 0, bytes, records, hot }))
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;
    use crate::trace::Source;

    fn accepted(text: &str) -> Trace {
        parse("t.csv", "t".into(), text).unwrap()
    }

    fn check_rejected(text: &str, expected: Expect) {
        expected.assert_eq(&parse("t.csv", "t".into(), text).unwrap_err().to_string());
    }

    const MIB: f64 = 1024.0 * 1024.0;

    #[test]
    fn a_file_without_the_hot_key_column_is_flat_per_minute_with_no_hot_key() {
        let t = accepted("minute,bytes_per_s,records_per_s\n0,1048576,512\n1,2097152,1024\n");
        assert_eq!((t.name(), t.minutes(), t.secs), ("t", 2, 120));
        assert_eq!(t.bytes_at(0), MIB);
        assert_eq!(t.bytes_at(59), MIB);
        assert_eq!(t.bytes_at(60), 2.0 * MIB);
        assert_eq!(t.hot_share(1), 0.0);
        assert_eq!(t.record_bytes(), 2048.0);
        assert!(t.event.is_none());
        assert!(matches!(t.source, Source::Recorded { ref file, initial_shards: None } if file == "t.csv"));
        // 1 MiB/s at the 60 % target.
        assert_eq!(t.initial_shards(), 2);
    }

    #[test]
    fn the_hot_key_column_gives_each_minute_its_share() {
        let t =
            accepted("minute,bytes_per_s,records_per_s,hot_key_share\n0,1048576,512,0\n1,1048576,512,0.25\n");
        assert_eq!((t.hot_share(0), t.hot_share(1)), (0.0, 0.25));
    }

    #[test]
    fn crlf_a_byte_order_mark_spaces_and_trailing_blank_lines_are_tolerated() {
        let t = accepted(
            "\u{feff}minute, bytes_per_s ,records_per_s\r\n0, 1048576 ,512\r\n1,1048576,512\r\n\r\n",
        );
        assert_eq!(t.minutes(), 2);
    }

    #[test]
    fn the_record_size_is_the_files_mean() {
        // 3 MiB over 2 s-minutes of 512 + 1024 records/s: 2048 bytes each.
        let t = accepted("minute,bytes_per_s,records_per_s\n0,1048576,512\n1,2097152,1024");
        assert_eq!(t.record_bytes(), 2048.0);
    }

    #[test]
    fn an_event_minute_starts_the_event_there_and_must_be_inside_the_trace() {
        let text = "minute,bytes_per_s,records_per_s\n0,1,1\n1,1,1\n";
        let t = accepted(text).with_event_at_minute(1).unwrap();
        assert_eq!(t.event, Some(crate::trace::Event { at: 60, until: 120 }));
        expect![["trace t: the event minute 2 is past the last minute, 1"]]
            .assert_eq(&accepted(text).with_event_at_minute(2).unwrap_err().to_string());
    }

    #[test]
    fn an_empty_file_is_rejected_at_line_1() {
        check_rejected(
            "",
            expect![[
                "t.csv:1: empty file: expected the header `minute,bytes_per_s,records_per_s[,hot_key_share]`"
            ]],
        );
    }

    #[test]
    fn a_missing_header_is_rejected_at_line_1() {
        check_rejected(
            "0,1,1\n",
            expect![[
                "t.csv:1: expected the header `minute,bytes_per_s,records_per_s` or `minute,bytes_per_s,records_per_s,hot_key_share`, found `0,1,1`"
            ]],
        );
    }

    #[test]
    fn a_header_without_rows_is_rejected() {
        check_rejected("minute,bytes_per_s,records_per_s\n", expect![["t.csv:2: no rows after the header"]]);
    }

    #[test]
    fn non_numeric_negative_and_non_finite_values_are_rejected_with_their_lines() {
        check_rejected(
            "minute,bytes_per_s,records_per_s\n0,abc,1\n1,-5,1\n2,1,NaN\n3,inf,1\nfour,1,1\n5,1\n",
            expect![[
                "t.csv:2: `bytes_per_s` must be a number, not `abc`; t.csv:3: `bytes_per_s` must be finite and not negative, not `-5`; t.csv:4: `records_per_s` must be finite and not negative, not `NaN`; t.csv:5: `bytes_per_s` must be finite and not negative, not `inf`; t.csv:6: `minute` must be a whole number, not `four`; t.csv:7: expected 3 fields, found 2"
            ]],
        );
    }

    #[test]
    fn a_hot_key_share_outside_0_to_1_is_rejected() {
        check_rejected(
            "minute,bytes_per_s,records_per_s,hot_key_share\n0,1,1,0.5\n1,1,1,1.5\n2,1,1,-0.1\n",
            expect![[
                "t.csv:3: `hot_key_share` must be at most 1, not `1.5`; t.csv:4: `hot_key_share` must be finite and not negative, not `-0.1`"
            ]],
        );
    }

    #[test]
    fn a_gap_in_the_minutes_is_one_problem_and_a_start_past_0_another() {
        check_rejected(
            "minute,bytes_per_s,records_per_s\n1,1,1\n2,1,1\n4,1,1\n5,1,1\n5,1,1\n",
            expect![[
                "t.csv:2: minute 1 where 0 was expected: minutes are consecutive from 0, one row each; t.csv:4: minute 4 where 3 was expected: minutes are consecutive from 0, one row each; t.csv:6: minute 5 where 6 was expected: minutes are consecutive from 0, one row each"
            ]],
        );
    }

    #[test]
    fn rates_beyond_the_simulated_shards_are_rejected() {
        check_rejected(
            "minute,bytes_per_s,records_per_s\n0,1e12,1\n1,1,1e9\n",
            expect![[
                "t.csv:2: `bytes_per_s` must be at most 268435456 (the simulated maximum of shards), not `1e12`; t.csv:3: `records_per_s` must be at most 256000 (the simulated maximum of shards), not `1e9`"
            ]],
        );
    }

    #[test]
    fn a_minute_needing_more_shards_at_the_mean_record_size_is_rejected() {
        // Each row is within the per-row limits, but the mean record is 411 bytes (bytes over
        // records of the whole file), so minute 1's 200 MiB/s is 510,000 records/s: 510 shards.
        check_rejected(
            "minute,bytes_per_s,records_per_s\n0,10,255000\n1,209715200,255000\n",
            expect![[
                "t.csv:3: this minute needs 510 shards at the file's mean record size, more than the simulated 256"
            ]],
        );
    }

    #[test]
    fn a_hot_key_beyond_one_shard_is_rejected_with_its_line() {
        check_rejected(
            "minute,bytes_per_s,records_per_s,hot_key_share\n0,1048576,512,0\n1,4194304,2048,0.5\n",
            expect![[
                "t.csv:3: the hot key alone needs 2.00 shards: no tiling can carry one key beyond one shard"
            ]],
        );
    }

    #[test]
    fn a_file_with_no_traffic_or_more_records_than_bytes_is_rejected() {
        check_rejected(
            "minute,bytes_per_s,records_per_s\n0,0,0\n",
            expect![["trace t.csv: no bytes or no records written in the whole file: nothing to simulate"]],
        );
        check_rejected(
            "minute,bytes_per_s,records_per_s\n0,10,20\n",
            expect![["trace t.csv: the mean record is 0.500 bytes: records_per_s exceeds bytes_per_s"]],
        );
    }

    #[test]
    fn more_rows_than_31_days_of_minutes_are_rejected_at_the_first_extra_row() {
        let mut text = String::from("minute,bytes_per_s,records_per_s\n");
        for m in 0..=MAX_ROWS {
            text.push_str(&format!("{m},1024,1\n"));
        }
        check_rejected(&text, expect![["t.csv:44642: more than 44640 rows (31 days of minutes)"]]);
        let exactly: String = text.lines().take(MAX_ROWS + 1).map(|l| format!("{l}\n")).collect();
        assert_eq!(accepted(&exactly).minutes(), MAX_ROWS as i64);
    }

    #[test]
    fn problems_stop_at_the_limit() {
        let mut text = String::from("minute,bytes_per_s,records_per_s\n");
        for m in 0..100 {
            text.push_str(&format!("{m},x,1\n"));
        }
        let SimError::Csv { problems, .. } = parse("t.csv", "t".into(), &text).unwrap_err() else {
            panic!("a syntax problem is a Csv error")
        };
        assert_eq!(problems.len(), MAX_PROBLEMS);
    }

    #[test]
    fn a_file_that_is_not_utf8_is_rejected_at_its_line() {
        let dir = std::env::temp_dir().join(format!("simulator-recorded-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.csv");
        std::fs::write(&path, b"minute,bytes_per_s,records_per_s\n0,1\xff,1\n").unwrap();
        let message = read(&path).unwrap_err().to_string();
        assert!(message.ends_with("bad.csv:2: not UTF-8 text"), "{message}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
