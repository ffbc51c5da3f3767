//! Autosave: the working document and its undo history, as one JSON text for `localStorage`.
//! No DOM here: encoding and decoding are plain functions with native tests; `ui` does the
//! storage calls.
//!
//! The saved text is `{"app": "switchboard", "kind": "autosave", "format": 1, "example": …,
//! "doc": <scenario>, "undo": [<scenario>…], "redo": [<scenario>…]}`. Each scenario is checked
//! by the core's parser (draft rules: work in progress may have a producer not yet connected),
//! so a hand-edited or corrupted save is refused with a message naming what is wrong and where,
//! never trusted.

use serde_json::Value;
use switchboard_core::Scenario;

/// The `localStorage` key of the autosave.
pub const KEY: &str = "switchboard.autosave";
/// Where a save that could not be restored is kept, so it can still be downloaded.
pub const REJECTED_KEY: &str = "switchboard.autosave.rejected";
/// The autosave format this build writes and reads.
pub const FORMAT: u64 = 1;
/// Undo and redo steps saved (the newest); older ones are not kept across a reload.
pub const HISTORY_SAVED: usize = 50;
/// The largest save read back, in bytes (browsers allow about 5 MB per origin).
pub const MAX_SAVE_BYTES: usize = 4 << 20;

/// Work restored from a save.
#[derive(Clone, Debug, PartialEq)]
pub struct Saved {
    /// The document.
    pub doc: Scenario,
    /// Undo steps, oldest first.
    pub undo: Vec<Scenario>,
    /// Redo steps, as the session keeps them.
    pub redo: Vec<Scenario>,
    /// The example it started from (`""`: none).
    pub example: String,
    /// History steps that could not be read and were left out.
    pub dropped: usize,
}

/// The save of `doc` with its history.
pub fn encode(doc: &Scenario, undo: &[Scenario], redo: &[Scenario], example: &str) -> String {
    let list = |docs: &[Scenario]| {
        let start = docs.len().saturating_sub(HISTORY_SAVED);
        docs[start..]
            .iter()
            .map(|d| serde_json::to_string(d).expect("a scenario always serialises"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{{\"app\":\"switchboard\",\"kind\":\"autosave\",\"format\":{FORMAT},\"example\":{},\"doc\":{},\"undo\":[{}],\"redo\":[{}]}}",
        serde_json::to_string(example).expect("strings serialise"),
        serde_json::to_string(doc).expect("a scenario always serialises"),
        list(undo),
        list(redo),
    )
}

/// Reads a save back. The error says what is wrong and where, in words for the page.
pub fn decode(text: &str) -> Result<Saved, String> {
    if text.len() > MAX_SAVE_BYTES {
        return Err(format!(
            "the saved work is {} bytes; at most {MAX_SAVE_BYTES} are read",
            text.len()
        ));
    }
    let v: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "the saved work is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    if v.get("app").and_then(Value::as_str) != Some("switchboard")
        || v.get("kind").and_then(Value::as_str) != Some("autosave")
    {
        return Err("the stored data is not a Switchboard autosave".into());
    }
    match v.get("format").and_then(Value::as_u64) {
        Some(FORMAT) => {}
        Some(f) if f > FORMAT => {
            return Err(format!(
                "the work was saved by a newer Switchboard (autosave format {f}; this one reads {FORMAT})"
            ))
        }
        _ => return Err("the autosave format is missing or not a number this build reads".into()),
    }
    let doc_value = v.get("doc").ok_or("the saved work has no document")?;
    let doc = Scenario::from_json_draft(&doc_value.to_string())
        .map_err(|d| format!("the saved document has problems: {}", prefixed("doc", &d)))?;
    let mut dropped = 0;
    let mut list = |key: &str| -> Vec<Scenario> {
        let items = v
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        items
            .iter()
            .filter_map(|d| {
                let s = Scenario::from_json_draft(&d.to_string()).ok();
                dropped += usize::from(s.is_none());
                s
            })
            .collect()
    };
    let undo = list("undo");
    let redo = list("redo");
    let example = v
        .get("example")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Saved {
        doc,
        undo,
        redo,
        example,
        dropped,
    })
}

fn prefixed(root: &str, d: &switchboard_core::Diagnostics) -> String {
    d.0.iter()
        .take(5)
        .map(|x| {
            if x.path == "(document)" {
                format!("{root}: {}", x.message)
            } else {
                format!("{root}.{}: {}", x.path, x.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::editor::Session;
    use switchboard_core::scenario::{EdgeSpec, Position};

    fn work() -> Session {
        let empty =
            Scenario::from_json(r#"{"version":1,"name":"mine","seed":9,"nodes":[],"edges":[]}"#)
                .unwrap();
        let mut s = Session::new(&empty).unwrap();
        let at = Position { x: 10.0, y: 20.0 };
        s.add_node("producer", None, at).unwrap(); // not yet connected: a draft
        s.add_node("queue", None, at).unwrap();
        s.connect(EdgeSpec::new("producer", "queue")).unwrap();
        s.undo().unwrap();
        s
    }

    #[test]
    fn work_and_history_round_trip() {
        let s = work();
        let (undo, redo) = s.history();
        let text = encode(&s.doc(), undo, redo, "hello");
        let back = decode(&text).unwrap();
        assert_eq!(back.doc, s.doc());
        assert_eq!(back.undo, undo);
        assert_eq!(back.redo, redo);
        assert_eq!(back.example, "hello");
        assert_eq!(back.dropped, 0);
        assert_eq!(back.undo.len(), 2, "two adds to undo");
        assert_eq!(back.redo.len(), 1, "the connect to redo");
    }

    #[test]
    fn bad_saves_are_refused_with_a_reason() {
        let cases = [
            ("{", "not valid JSON"),
            ("[1,2]", "not a Switchboard autosave"),
            (
                r#"{"app":"other","kind":"autosave","format":1}"#,
                "not a Switchboard autosave",
            ),
            (
                r#"{"app":"switchboard","kind":"autosave","format":9,"doc":{}}"#,
                "newer Switchboard",
            ),
            (
                r#"{"app":"switchboard","kind":"autosave","format":"x"}"#,
                "format is missing",
            ),
            (
                r#"{"app":"switchboard","kind":"autosave","format":1}"#,
                "no document",
            ),
            (
                r#"{"app":"switchboard","kind":"autosave","format":1,"doc":{"version":1,"nodes":[{"id":"q","kind":"queue","config":{"arguments":{"x-message-ttl":-5}}}],"edges":[]}}"#,
                "doc.nodes[0]",
            ),
        ];
        for (text, why) in cases {
            let err = decode(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
        let huge = "x".repeat(MAX_SAVE_BYTES + 1);
        assert!(decode(&huge).unwrap_err().contains("bytes"));
    }

    #[test]
    fn unreadable_history_steps_are_left_out_not_fatal() {
        let s = work();
        let (undo, redo) = s.history();
        let text = encode(&s.doc(), undo, redo, "");
        let broken = text.replacen("\"undo\":[", "\"undo\":[{\"nodes\":7},", 1);
        let back = decode(&broken).unwrap();
        assert_eq!(back.dropped, 1);
        assert_eq!(back.undo.len(), 2);
    }

    #[test]
    fn only_the_newest_history_is_saved() {
        let d = Scenario::from_json(r#"{"version":1,"nodes":[],"edges":[]}"#).unwrap();
        let many = vec![d.clone(); HISTORY_SAVED + 7];
        let back = decode(&encode(&d, &many, &[], "")).unwrap();
        assert_eq!(back.undo.len(), HISTORY_SAVED);
    }
}
