//! Diagnostics: what is wrong with a document, and where.

use serde::Serialize;
use std::fmt;

/// One problem in a document: a JSON path such as `nodes[3].config.rate_per_s`, and a reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Where: a dotted path with `[i]` indices, or `(document)` for the whole text.
    pub path: String,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in one document. Never empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl Diagnostics {
    /// A single diagnostic.
    pub fn one(path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostics(vec![Diagnostic::new(path, message)])
    }
}

/// A place in a document, spelled out only when a diagnostic names it: checking a valid
/// document (nearly every check passes) formats no paths, which keeps validation linear and
/// cheap at the document limits.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Path<'a> {
    /// An element of a top-level list: `nodes[3]`.
    Item(&'static str, usize),
    /// A field under another place: `nodes[3].config`.
    Field(&'a Path<'a>, &'a str),
    /// An element of a list under another place: `nodes[3].config.children[1]`.
    Index(&'a Path<'a>, &'a str, usize),
}

impl<'a> Path<'a> {
    /// The field `name` under this place.
    pub(crate) fn at(&'a self, name: &'a str) -> Path<'a> {
        Path::Field(self, name)
    }

    /// Element `i` of the list `name` under this place.
    pub(crate) fn index(&'a self, name: &'a str, i: usize) -> Path<'a> {
        Path::Index(self, name, i)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Item(list, i) => write!(f, "{list}[{i}]"),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, name, i) => write!(f, "{parent}.{name}[{i}]"),
        }
    }
}

impl From<Path<'_>> for String {
    fn from(p: Path<'_>) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_spelled_as_the_document_nests() {
        let node = Path::Item("nodes", 3);
        let config = node.at("config");
        assert_eq!(
            config.at("arguments").to_string(),
            "nodes[3].config.arguments"
        );
        assert_eq!(String::from(Path::Item("edges", 0)), "edges[0]");
        let d = Diagnostic::new(node.at("id"), "must not be empty");
        assert_eq!(d.to_string(), "nodes[3].id: must not be empty");
    }
}
