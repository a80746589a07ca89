//! The JSON Schema editors use agrees with the validator.
//!
//! Every fixture (`config/valid`, `config/invalid`, the documented `streams.yaml`) is loaded as
//! the YAML language server sees it (YAML turned into JSON) and checked against
//! `streamspec::json_schema()` with the `jsonschema` crate. A file the schema refuses must be
//! refused by the validator, always. A file the validator refuses must be refused by the schema
//! too, unless the file's last line says which rule JSON Schema cannot express
//! (`# JSON Schema: valid; not expressible: ...`, one of [`NOT_EXPRESSIBLE`]). Numeric limits are
//! compared value by value against the validator's own messages.

use std::fs;
use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Value, json};

/// What only the validator checks; each is named in `schema.rs`'s header too.
const NOT_EXPRESSIBLE: &[&str] = &[
    "a rule between settings after merging defaults",
    "unique stream names",
    "the tag count after merging defaults",
];
const MARKER: &str = "# JSON Schema: valid; not expressible: ";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft7::new(&streamspec::json_schema()).expect("the schema compiles as draft-07")
}

/// The document as JSON, or `None` where an editor reports a YAML error instead (syntax,
/// duplicate keys, several documents, an alias over budget).
fn as_json(text: &str) -> Option<Value> {
    let mut documents = Yaml::load_from_str(text).ok()?;
    match documents.len() {
        0 => Some(Value::Null),
        1 => json_of(&documents.pop()?),
        _ => None,
    }
}

fn json_of(node: &Yaml) -> Option<Value> {
    Some(match node {
        Yaml::Value(Scalar::Null) => Value::Null,
        Yaml::Value(Scalar::Boolean(b)) => json!(b),
        Yaml::Value(Scalar::Integer(n)) => json!(n),
        // JSON has no infinity or NaN; null is as wrong as they are wherever a number goes.
        Yaml::Value(Scalar::FloatingPoint(f)) => {
            serde_json::Number::from_f64(f.0).map_or(Value::Null, Value::Number)
        }
        Yaml::Value(Scalar::String(s)) => json!(s),
        Yaml::Sequence(items) => Value::Array(items.iter().map(json_of).collect::<Option<_>>()?),
        Yaml::Mapping(map) => {
            let mut object = Map::new();
            for (key, value) in map {
                // JSON keys are strings: `2024:` becomes "2024", as in the language server.
                let key = match json_of(key)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                object.insert(key, json_of(value)?);
            }
            Value::Object(object)
        }
        _ => return None,
    })
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(repo().join("config").join(dir))
        .unwrap_or_else(|e| panic!("config/{dir}: {e}"))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Compares both verdicts on one file; the disagreement, if any, as text.
fn agreement(schema: &jsonschema::Validator, path: &Path) -> Result<(), String> {
    let name = path.strip_prefix(repo()).unwrap_or(path).display().to_string();
    let text = fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let by_validator = streamspec::parse(&name, &text).is_ok();
    let by_schema = as_json(&text).is_some_and(|json| schema.is_valid(&json));
    let exception = text.lines().last().and_then(|line| line.strip_prefix(MARKER));
    match (by_validator, by_schema, exception) {
        (true, true, None) | (false, false, None) => Ok(()),
        (false, true, Some(rule)) if NOT_EXPRESSIBLE.contains(&rule) => Ok(()),
        (false, true, Some(rule)) => Err(format!("{name}: {rule:?} is not one of {NOT_EXPRESSIBLE:?}")),
        (false, true, None) => Err(format!(
            "{name}: the validator refuses it but the schema accepts it; tighten the schema, or end the \
             file with \"{MARKER}<rule>\""
        )),
        (true, false, _) => Err(format!("{name}: the schema refuses a file the validator accepts")),
        (_, _, Some(_)) => Err(format!("{name}: marked as schema-valid, but the schema refuses it")),
    }
}

#[test]
fn every_fixture_is_valid_or_invalid_under_both_the_schema_and_the_validator() {
    let schema = validator();
    let mut files = fixtures("valid");
    files.extend(fixtures("invalid"));
    files.push(repo().join("streams.yaml"));
    assert!(files.len() > 30, "the fixtures went missing: {files:?}");
    let failures: Vec<String> = files.iter().filter_map(|file| agreement(&schema, file).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Whether the validator refuses `value` for `key` on its own (not for a rule between settings),
/// and whether the schema does, when `key` is set on a stream: `scaleUp.periodSeconds`.
fn verdicts(schema: &jsonschema::Validator, key: &str, value: &str) -> (bool, bool) {
    let (section, field) = key.split_once('.').map_or((None, key), |(s, f)| (Some(s), f));
    let setting = match section {
        Some(section) => format!("{section}: {{{field}: {value}}}"),
        None => format!("{field}: {value}"),
    };
    let desired = if field == "desiredShards" { "" } else { "desiredShards: 1, " };
    let text = format!("streams:\n  - {{name: s, {desired}{setting}}}\n");
    let own_problem = format!("{key}: ");
    let by_validator = match streamspec::parse("t.yaml", &text) {
        Ok(_) => true,
        Err(problems) => !problems.iter().any(|d| d.message.starts_with(&own_problem)),
    };
    let by_schema = schema.is_valid(&as_json(&text).expect("loads as JSON"));
    (by_validator, by_schema)
}

#[test]
fn numeric_limits_match_the_validator_value_by_value() {
    let schema = validator();
    let mut values: Vec<i64> = (-2..=1_100).collect();
    for limit in [1_440, 3_600, 8_760, 10_000, 86_400] {
        values.extend(limit - 130..=limit + 130);
    }
    let keys = [
        "desiredShards",
        "minShards",
        "maxShards",
        "retentionHours",
        "scaleUp.periodSeconds",
        "scaleUp.evaluationPeriods",
        "scaleUp.cooldownMinutes",
        "scaleDown.periodMinutes",
        "scaleDown.lookbackHours",
    ];
    let mut disagreements = Vec::new();
    for key in keys {
        for n in &values {
            let (by_validator, by_schema) = verdicts(&schema, key, &n.to_string());
            if by_validator != by_schema {
                disagreements.push(format!("{key}: {n} validator {by_validator}, schema {by_schema}"));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn percentages_match_the_validator_as_numbers_and_strings() {
    let schema = validator();
    let values = [
        "80",
        "62.5",
        "100",
        "1.5",
        "4.0",
        "1",
        "0.8",
        "0",
        "-5",
        "100.01",
        "150",
        r#""80%""#,
        r#"" 62.5 % ""#,
        r#""0.5%""#,
        r#""100%""#,
        r#""100.0%""#,
        r#""5.%""#,
        r#"".5%""#,
        r#""007%""#,
        r#""0%""#,
        r#""0.0%""#,
        r#""100.5%""#,
        r#""101%""#,
        r#""-5%""#,
        r#""+80%""#,
        r#""8e1%""#,
        r#""80""#,
        r#""80 percent""#,
        r#""%""#,
        r#""inf%""#,
        r#""NaN%""#,
        "true",
        ".inf",
        ".nan",
    ];
    let mut disagreements = Vec::new();
    for key in ["scaleUp.thresholdPercent", "scaleUp.targetPercent", "scaleDown.thresholdPercent"] {
        for value in values {
            let (by_validator, by_schema) = verdicts(&schema, key, value);
            if by_validator != by_schema {
                disagreements.push(format!("{key}: {value} validator {by_validator}, schema {by_schema}"));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
