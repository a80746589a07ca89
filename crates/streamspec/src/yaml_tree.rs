//! YAML text to a tree where every node knows its line and column.
//!
//! saphyr's own loader builds the [`MarkedYaml`] tree; we feed it the parser's events ourselves
//! so that we can watch the keys go by. Its duplicate-key check stops at the first duplicate and
//! does not name the key; ours reports each one, with the line of the first occurrence, and lets
//! validation carry on so the user also sees the file's other problems.

use std::collections::HashMap;

use saphyr::{MarkedYaml, YamlData, YamlLoader};
use saphyr_parser::{Event, Parser, Span, SpannedEventReceiver};

use crate::Location;
use crate::reader::Reporter;

/// The single document in `text`, or `None` after reporting why there is none to validate.
pub(crate) fn document<'t>(text: &'t str, report: &mut Reporter) -> Option<MarkedYaml<'t>> {
    let mut loader = YamlLoader::<MarkedYaml<'t>>::default();
    loader.allow_duplicate_keys(true);
    let mut receiver = KeyWatcher { loader, frames: Vec::new(), duplicates: Vec::new() };
    if let Err(error) = Parser::new_from_str(text).load(&mut receiver, true) {
        report.at(Location::of(*error.marker()), format!("YAML syntax error: {}", error.info()));
        return None;
    }
    if let Some(error) = receiver.loader.error() {
        // Alias expansion over budget: the only loader error left once duplicates are allowed.
        report.at(Location::of(*error.marker()), format!("YAML error: {}", error.info()));
        return None;
    }
    for duplicate in receiver.duplicates {
        report.at(
            duplicate.at,
            format!("duplicate key {:?}; it was first set at line {}", duplicate.key, duplicate.first.line),
        );
    }
    let mut documents = receiver.loader.into_documents();
    if documents.len() > 1 {
        let second = Location::of(documents[1].span.start);
        report.at(
            second,
            format!("expected one YAML document, found {}; remove the extra `---`", documents.len()),
        );
        return None;
    }
    match documents.pop() {
        Some(root) if !matches!(root.data, YamlData::BadValue | YamlData::Value(saphyr::Scalar::Null)) => {
            Some(root)
        }
        _ => {
            report.at(
                Location { line: 1, column: 1 },
                "the file is empty; expected a mapping with a \"streams\" list",
            );
            None
        }
    }
}

/// Passes every event on to saphyr's loader and records duplicate scalar keys on the way.
struct KeyWatcher<'t> {
    loader: YamlLoader<'t, MarkedYaml<'t>>,
    /// One entry per open collection: `Some` for a mapping, `None` for a sequence.
    frames: Vec<Option<MappingFrame>>,
    duplicates: Vec<Duplicate>,
}

#[derive(Default)]
struct MappingFrame {
    /// True when the next node is a key (mappings alternate key, value, key, ...).
    expecting_key: bool,
    seen: HashMap<String, Location>,
}

struct Duplicate {
    key: String,
    at: Location,
    first: Location,
}

impl KeyWatcher<'_> {
    /// A node is complete: in a mapping, the next node switches between key and value.
    fn node_done(&mut self) {
        if let Some(Some(frame)) = self.frames.last_mut() {
            frame.expecting_key = !frame.expecting_key;
        }
    }
}

impl<'t> SpannedEventReceiver<'t> for KeyWatcher<'t> {
    fn on_event(&mut self, event: Event<'t>, span: Span) {
        match &event {
            Event::MappingStart(..) => {
                self.frames.push(Some(MappingFrame { expecting_key: true, ..Default::default() }))
            }
            Event::SequenceStart(..) => self.frames.push(None),
            Event::MappingEnd | Event::SequenceEnd => {
                self.frames.pop();
                self.node_done();
            }
            Event::Scalar(value, ..) => {
                if let Some(Some(frame)) = self.frames.last_mut()
                    && frame.expecting_key
                {
                    let at = Location::of(span.start);
                    match frame.seen.get(value.as_ref()) {
                        Some(&first) => self.duplicates.push(Duplicate { key: value.to_string(), at, first }),
                        None => {
                            frame.seen.insert(value.to_string(), at);
                        }
                    }
                }
                self.node_done();
            }
            Event::Alias(_) => self.node_done(),
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
        self.loader.on_event(event, span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The positions of reported problems, as `line:column message`.
    fn check(text: &str, expected: &[&str]) {
        let mut report = Reporter::new("f.yaml");
        document(text, &mut report);
        let got: Vec<String> = report
            .into_diagnostics()
            .into_iter()
            .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
            .collect();
        assert_eq!(got, expected, "for {text:?}");
    }

    #[test]
    fn every_duplicate_key_is_reported_with_its_first_line() {
        check(
            "a: 1\nb: 2\na: 3\nm: {x: 1, x: 2}\n",
            &[
                "3:1 duplicate key \"a\"; it was first set at line 1",
                "4:11 duplicate key \"x\"; it was first set at line 4",
            ],
        );
    }

    #[test]
    fn equal_keys_in_different_mappings_are_not_duplicates() {
        check("s:\n  - name: a\n    n: 1\n  - name: b\n    n: 2\nname: c\n", &[]);
    }

    #[test]
    fn values_equal_to_a_key_are_not_duplicates() {
        check("a: a\nb: [a, a]\nc: {a: a}\n", &[]);
    }

    #[test]
    fn syntax_errors_carry_the_parser_position() {
        check("a: [1, 2\nb: 3\n", &["2:2 YAML syntax error: illegal placement of ':' indicator"]);
        check("a: b: c\n", &["1:5 YAML syntax error: mapping values are not allowed in this context"]);
        check(
            "s:\n  - name: a\n   desiredShards: 1\n",
            &["3:4 YAML syntax error: while parsing a block collection, did not find expected '-' indicator"],
        );
    }

    #[test]
    fn empty_and_multi_document_files_are_rejected() {
        check("", &["1:1 the file is empty; expected a mapping with a \"streams\" list"]);
        check("# only a comment\n", &["1:1 the file is empty; expected a mapping with a \"streams\" list"]);
        check("a: 1\n---\nb: 2\n", &["3:1 expected one YAML document, found 2; remove the extra `---`"]);
    }
}
