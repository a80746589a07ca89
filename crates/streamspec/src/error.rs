//! What can go wrong with a `streams.yaml`, as values.
//!
//! A broken file is not one error but a list of problems, each tied to a place in the file, so
//! the user can fix them all in one edit. [`Diagnostics`] is that list; [`SpecError`] is the one
//! error type of the crate and wraps it next to the failures that have no position (I/O, a bad
//! stream name passed on a command line).

use std::fmt;
use std::path::PathBuf;

/// Every way loading or validating a configuration can fail.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but has problems; every one of them is listed.
    #[error(transparent)]
    Invalid(Diagnostics),
    /// A stream name Kinesis would refuse, given outside a file (a file reports it as a diagnostic).
    #[error("invalid stream name {name:?}: {reason}")]
    InvalidStreamName { name: String, reason: &'static str },
}

/// One problem in a file, at the line and column of the offending key or value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as the caller gave it to [`crate::parse`].
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// What is wrong, quoting the value found and saying what is allowed.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: message`, the form editors and terminals turn into links.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// All the problems found in one file, ordered by position; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// Sorts by position so the output reads top to bottom whatever order the checks ran in.
    pub(crate) fn new(mut list: Vec<Diagnostic>) -> Diagnostics {
        list.sort_by_key(|d| (d.line, d.column));
        Diagnostics(list)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    pub fn as_slice(&self) -> &[Diagnostic] {
        &self.0
    }
}

impl fmt::Display for Diagnostics {
    /// One diagnostic per line, no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
