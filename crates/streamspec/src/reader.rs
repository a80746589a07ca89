//! Reading single YAML nodes into Rust values, reporting instead of failing.
//!
//! Every reader either returns the value or records one diagnostic at the node's position and
//! returns `None`, so the walk over the file always continues and the user gets every problem in
//! one run. Messages have one shape, `key: expected <what is allowed>, found <the value>`.

use saphyr::{MarkedYaml, Scalar, YamlData};

use crate::{Diagnostic, Location};

/// YAML's merge key (`<<: *base`), which saphyr reads as a plain key: `defaults` is this file's
/// way to share settings, so the message says so instead of suggesting a key.
const MERGE_KEY: &str = "<<";
const MERGE_KEY_ADVICE: &str =
    "YAML merge keys are not supported: put shared settings under \"defaults\" (every stream inherits them)";

/// Collects the diagnostics for one file.
#[derive(Debug)]
pub(crate) struct Reporter {
    file: String,
    diagnostics: Vec<Diagnostic>,
}

/// One `key: value` pair of a mapping whose key is a known name.
pub(crate) struct Entry<'n, 't> {
    pub key: &'n str,
    pub value: &'n MarkedYaml<'t>,
}

impl Reporter {
    pub fn new(file: &str) -> Reporter {
        Reporter { file: file.to_owned(), diagnostics: Vec::new() }
    }

    pub fn at(&mut self, at: Location, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            message: message.into(),
        });
    }

    pub fn is_clean(&self) -> bool {
        self.diagnostics.is_empty()
    }

    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    /// The entries of a mapping whose keys are in `allowed`, after reporting every other key.
    /// `context` completes "unknown key "x" ..." (such as `in defaults`); `misplaced` may explain
    /// a key that is valid elsewhere better than a spelling suggestion would. An empty value
    /// (`defaults:` with everything commented out) reads as an empty mapping.
    pub fn mapping<'n, 't>(
        &mut self,
        path: &str,
        node: &'n MarkedYaml<'t>,
        context: &str,
        allowed: &[&str],
        misplaced: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Vec<Entry<'n, 't>>> {
        let map = match &node.data {
            YamlData::Mapping(map) => map,
            YamlData::Value(Scalar::Null) => return Some(Vec::new()),
            _ => {
                self.expected(path, "a mapping", node);
                return None;
            }
        };
        let mut entries = Vec::with_capacity(map.len());
        for (key_node, value) in map {
            let key_at = at(key_node);
            let Some(key) = as_str(key_node) else {
                self.at(key_at, format!("keys must be names, found {} {context}", describe(key_node)));
                continue;
            };
            if allowed.contains(&key) {
                entries.push(Entry { key, value });
                continue;
            }
            let advice = if key == MERGE_KEY {
                MERGE_KEY_ADVICE.to_owned()
            } else {
                match misplaced(key) {
                    Some(advice) => advice,
                    None => match suggest(key, allowed) {
                        Some(close) => format!("did you mean {close:?}?"),
                        None => format!("expected one of: {}", allowed.join(", ")),
                    },
                }
            };
            self.at(key_at, format!("unknown key {key:?} {context}; {advice}"));
        }
        Some(entries)
    }

    /// A whole number that `ok` accepts (`ok` must reject anything outside `u32`); `allowed` says
    /// what `ok` accepts, for the message.
    pub fn whole(
        &mut self,
        path: &str,
        node: &MarkedYaml,
        allowed: &str,
        ok: impl Fn(i64) -> bool,
    ) -> Option<u32> {
        let number = match scalar(node) {
            Some(Scalar::Integer(n)) => *n,
            // `4.0` is a whole number written oddly; `4.5` is not.
            Some(Scalar::FloatingPoint(f)) if f.fract() == 0.0 && f.abs() < 1e15 => f.0 as i64,
            _ => {
                self.expected(path, "a whole number", node);
                return None;
            }
        };
        if ok(number) {
            u32::try_from(number).ok()
        } else {
            self.at(at(node), format!("{path}: expected {allowed}, found {}", describe(node)));
            None
        }
    }

    pub fn boolean(&mut self, path: &str, node: &MarkedYaml) -> Option<bool> {
        match scalar(node) {
            Some(Scalar::Boolean(b)) => Some(*b),
            _ => {
                self.expected(path, "true or false", node);
                None
            }
        }
    }

    pub fn string<'n>(&mut self, path: &str, node: &'n MarkedYaml) -> Option<&'n str> {
        let found = as_str(node);
        if found.is_none() {
            match scalar(node) {
                // A bare `2024` or `true` is read as a number or boolean; quoting makes it a string.
                Some(Scalar::Integer(_) | Scalar::FloatingPoint(_) | Scalar::Boolean(_)) => self.at(
                    at(node),
                    format!("{path}: expected a string, found {0}; quote it: \"{0}\"", describe(node)),
                ),
                _ => self.expected(path, "a string", node),
            }
        }
        found
    }

    /// A percentage in `(0, 100]`: a number, or a string such as `"80%"`. A bare number in
    /// `(0, 1]` is refused as a probable fraction (`0.8` meant as 80 %), because a threshold of
    /// 0.8 % would alarm on an idle stream; `"0.8%"` states the intent and is accepted.
    pub fn percent(&mut self, path: &str, node: &MarkedYaml) -> Option<f64> {
        let (value, explicit) = match scalar(node) {
            Some(Scalar::Integer(n)) => (*n as f64, false),
            Some(Scalar::FloatingPoint(f)) => (f.0, false),
            Some(Scalar::String(s)) => {
                match s.trim().strip_suffix('%').and_then(|n| plain_decimal(n.trim())) {
                    Some(value) => (value, true),
                    None => {
                        self.expected(path, "a percentage such as 80 or \"80%\"", node);
                        return None;
                    }
                }
            }
            _ => {
                self.expected(path, "a percentage such as 80 or \"80%\"", node);
                return None;
            }
        };
        if !explicit && value > 0.0 && value <= 1.0 {
            let written = (value * 100.0 * 1e6).round() / 1e6;
            self.at(
                at(node),
                format!(
                    "{path}: {} looks like a fraction; thresholds are percentages: write {written}",
                    describe(node)
                ),
            );
            return None;
        }
        if value > 0.0 && value <= 100.0 {
            Some(value)
        } else {
            self.at(
                at(node),
                format!("{path}: expected a percentage above 0 and at most 100, found {}", describe(node)),
            );
            None
        }
    }

    fn expected(&mut self, path: &str, what: &str, node: &MarkedYaml) {
        self.at(at(node), format!("{path}: expected {what}, found {}", describe(node)));
    }
}

/// `80`, `62.5`, `.5`, `5.`: digits and at most one point, no `+` or exponent, so that a
/// percentage string means the same to every reader (the JSON Schema's pattern says the same). A
/// `-` is read, so that `"-5%"` is told it is out of range rather than malformed.
fn plain_decimal(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let digits = unsigned.bytes().filter(u8::is_ascii_digit).count();
    let point = usize::from(unsigned.contains('.'));
    (digits > 0 && digits + point == unsigned.len()).then(|| text.parse().ok()).flatten()
}

/// Where a node starts.
pub(crate) fn at(node: &MarkedYaml) -> Location {
    Location::of(node.span.start)
}

pub(crate) fn as_str<'n>(node: &'n MarkedYaml) -> Option<&'n str> {
    match scalar(node) {
        Some(Scalar::String(s)) => Some(s.as_ref()),
        _ => None,
    }
}

fn scalar<'n, 't>(node: &'n MarkedYaml<'t>) -> Option<&'n Scalar<'t>> {
    match &node.data {
        YamlData::Value(scalar) => Some(scalar),
        _ => None,
    }
}

/// A node as a message quotes it: strings in quotes, numbers as numbers, collections by kind.
pub(crate) fn describe(node: &MarkedYaml) -> String {
    match &node.data {
        YamlData::Value(Scalar::Null) => "nothing".to_owned(),
        YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
        YamlData::Value(Scalar::Integer(n)) => n.to_string(),
        YamlData::Value(Scalar::FloatingPoint(f)) => f.to_string(),
        YamlData::Value(Scalar::String(s)) => format!("{s:?}"),
        YamlData::Sequence(_) => "a list".to_owned(),
        YamlData::Mapping(_) => "a mapping".to_owned(),
        YamlData::Tagged(tag, _) => format!("a value tagged {tag} (custom tags are not supported)"),
        YamlData::Representation(..) | YamlData::Alias(_) | YamlData::BadValue => {
            "a value that does not match its tag".to_owned()
        }
    }
}

/// The allowed key closest to a misspelt one, if any is close enough to be the likely intent.
/// Case is ignored (`MinShards` is a typo for `minShards`), and a key is also compared with the
/// leading camelCase words of each candidate, so `treshold` finds `thresholdPercent`.
fn suggest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let key = key.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in allowed {
        let score = camel_prefixes(candidate)
            .map(|prefix| strsim::jaro_winkler(&key, &prefix.to_lowercase()))
            .fold(0.0, f64::max);
        if score >= 0.85 && best.is_none_or(|(top, _)| score > top) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `thresholdPercent` -> `threshold`, `thresholdPercent`.
fn camel_prefixes(name: &str) -> impl Iterator<Item = &str> {
    name.char_indices()
        .skip(1)
        .filter(|(_, c)| c.is_ascii_uppercase())
        .map(|(i, _)| &name[..i])
        .chain(std::iter::once(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, expected: Option<&str>) {
        let allowed =
            ["name", "desiredShards", "minShards", "maxShards", "retentionHours", "scaleUp", "scaleDown"];
        assert_eq!(suggest(key, &allowed), expected, "for {key:?}");
    }

    #[test]
    fn close_misspellings_get_a_suggestion() {
        check("minShard", Some("minShards"));
        check("MinShards", Some("minShards"));
        check("max_shards", Some("maxShards"));
        check("retention", Some("retentionHours"));
        check("desiredShard", Some("desiredShards"));
        check("scaleup", Some("scaleUp"));
        check("Name", Some("name"));
        check("desired", Some("desiredShards"));
    }

    #[test]
    fn a_misspelt_leading_word_finds_the_full_key() {
        let allowed = ["thresholdPercent", "targetPercent", "throttleAlarm", "throttleBypassesCooldown"];
        assert_eq!(suggest("treshold", &allowed), Some("thresholdPercent"));
        assert_eq!(suggest("threshold", &allowed), Some("thresholdPercent"));
        assert_eq!(suggest("target", &allowed), Some("targetPercent"));
        assert_eq!(suggest("throttle", &allowed), Some("throttleAlarm"));
        assert_eq!(suggest("cooldown", &allowed), None);
    }

    #[test]
    fn unrelated_keys_get_no_suggestion() {
        check("owner", None);
        check("partitions", None);
        check("zzz", None);
    }
}
