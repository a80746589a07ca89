//! `streams.yaml`: the file that says which Kinesis streams exist and how each one scales.
//!
//! This crate turns the file into validated values (a [`Config`] of [`StreamSpec`]s, each with
//! a [`planner::Policy`]) or into the complete list of what is wrong with it, every problem with
//! the `file:line:column` of the key or value at fault. It is the edge where input is checked,
//! once: the CLI, the planner and the Lambdas only ever see values that passed.
//!
//! The YAML is read with saphyr's marked nodes, which carry a position for every node, and
//! walked by hand rather than deserialised, so that semantic errors ("minShards is greater than
//! maxShards") get positions too, not only syntax errors.

mod error;
mod import;
mod layer;
mod model;
mod reader;
mod resolve;
mod schema;
mod validate;
mod yaml_tree;

use std::path::Path;

pub use error::{Diagnostic, Diagnostics, SpecError};
pub use import::{ImportHeader, LiveStream, bounds_around, import_file};
pub use layer::RESERVED_TAG_PREFIX;
pub use model::{Config, Location, StreamName, StreamSpec};
pub use schema::json_schema;

/// Parses and validates `text`; `file_name` only labels the diagnostics.
pub fn parse(file_name: &str, text: &str) -> Result<Config, Diagnostics> {
    let mut report = reader::Reporter::new(file_name);
    let config = yaml_tree::document(text, &mut report).and_then(|root| validate::config(&root, &mut report));
    match config {
        Some(config) if report.is_clean() => Ok(config),
        _ => Err(Diagnostics::new(report.into_diagnostics())),
    }
}

/// Reads and validates the file at `path`; diagnostics name the path as given.
pub fn load(path: &Path) -> Result<Config, SpecError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| SpecError::Io { path: path.to_owned(), source })?;
    parse(&path.display().to_string(), &text).map_err(SpecError::Invalid)
}
