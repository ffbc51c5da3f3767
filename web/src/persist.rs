//! Autosave: the working document and its undo history, as one JSON text, and the recent
//! documents (work that opening something else replaced), as another. The page keeps both in
//! IndexedDB (`ui/storage.rs`). No DOM here: encoding and decoding are plain functions with
//! native tests; `ui` does the storage calls.
//!
//! The saved text is `{"app": "switchboard", "kind": "autosave", "format": 1, "example": …,
//! "doc": <scenario>, "undo": [<scenario>…], "redo": [<scenario>…]}`. Each scenario is checked
//! by the core's parser (draft rules: work in progress may have a producer not yet connected),
//! so a hand-edited or corrupted save is refused with a message naming what is wrong and where,
//! never trusted.

use serde_json::Value;
use switchboard_core::Scenario;

/// The autosave format this build writes and reads.
pub const FORMAT: u64 = 1;
/// Undo and redo steps saved (the newest); older ones are not kept across a reload.
pub const HISTORY_SAVED: usize = 50;
/// The largest save read back, in bytes (IndexedDB holds far more; this bounds the parse).
pub const MAX_SAVE_BYTES: usize = 64 << 20;
/// Recent documents kept, newest first.
pub const RECENT_KEPT: usize = 10;

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
    /// When it was saved (wall-clock ms since the epoch; 0 if the save does not say). Of two
    /// copies of the work, the newer wins.
    pub saved_at: f64,
}

/// The save of `doc` with its history, saved at `saved_at` (wall-clock ms since the epoch).
pub fn encode(
    doc: &Scenario,
    undo: &[Scenario],
    redo: &[Scenario],
    example: &str,
    saved_at: f64,
) -> String {
    let list = |docs: &[Scenario]| {
        let start = docs.len().saturating_sub(HISTORY_SAVED);
        docs[start..]
            .iter()
            .map(|d| serde_json::to_string(d).expect("a scenario always serialises"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "{{\"app\":\"switchboard\",\"kind\":\"autosave\",\"format\":{FORMAT},\"saved_at\":{},\"example\":{},\"doc\":{},\"undo\":[{}],\"redo\":[{}]}}",
        serde_json::to_string(&saved_at).expect("a number serialises"),
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
    let saved_at = v
        .get("saved_at")
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite())
        .unwrap_or(0.0);
    Ok(Saved {
        doc,
        undo,
        redo,
        example,
        dropped,
        saved_at,
    })
}

/// Of the copies of the saved work found (IndexedDB's first, then the `localStorage`
/// mirror's), the one to restore and its index: the newest that reads (by `saved_at`; the
/// first on a tie). If none reads, why the first cannot, and its index. `None` if there is
/// no copy.
pub fn choose(copies: &[&str]) -> Option<Result<(Saved, usize), (String, usize)>> {
    let mut first_err = None;
    let mut best: Option<(Saved, usize)> = None;
    for (i, text) in copies.iter().enumerate() {
        match decode(text) {
            Ok(saved) => {
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| saved.saved_at > b.saved_at)
                {
                    best = Some((saved, i));
                }
            }
            Err(why) => {
                first_err.get_or_insert((why, i));
            }
        }
    }
    match (best, first_err) {
        (Some(b), _) => Some(Ok(b)),
        (None, Some(e)) => Some(Err(e)),
        (None, None) => None,
    }
}

/// A document that opening something else replaced, and when (wall-clock ms since the epoch).
#[derive(Clone, Debug, PartialEq)]
pub struct Recent {
    /// When it was replaced.
    pub at_ms: f64,
    /// The document as it was.
    pub doc: Scenario,
}

/// Adds `doc` to the front of `recent`: an empty canvas is not kept, the same document is
/// not kept twice (the newer copy moves to the front), and at most [`RECENT_KEPT`] stay.
pub fn remember(recent: &mut Vec<Recent>, doc: Scenario, at_ms: f64) {
    if doc.nodes.is_empty() {
        return;
    }
    let same = |a: &Scenario, b: &Scenario| {
        a.name == b.name && a.nodes == b.nodes && a.edges == b.edges && a.actions == b.actions
    };
    recent.retain(|r| !same(&r.doc, &doc));
    recent.insert(0, Recent { at_ms, doc });
    recent.truncate(RECENT_KEPT);
}

/// The recent documents as stored: `{"app": "switchboard", "kind": "recent", "format": 1,
/// "items": [{"at_ms": …, "doc": <scenario>}…]}`.
pub fn encode_recent(recent: &[Recent]) -> String {
    let items: Vec<String> = recent
        .iter()
        .map(|r| {
            format!(
                "{{\"at_ms\":{},\"doc\":{}}}",
                serde_json::to_string(&r.at_ms).expect("a number serialises"),
                serde_json::to_string(&r.doc).expect("a scenario always serialises")
            )
        })
        .collect();
    format!(
        "{{\"app\":\"switchboard\",\"kind\":\"recent\",\"format\":{FORMAT},\"items\":[{}]}}",
        items.join(",")
    )
}

/// Reads the recent documents back; an item that cannot be read is left out, and anything
/// that is not a list of recent documents reads as none (it is a convenience, not the work).
pub fn decode_recent(text: &str) -> Vec<Recent> {
    if text.len() > MAX_SAVE_BYTES {
        return Vec::new();
    }
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    if v.get("kind").and_then(Value::as_str) != Some("recent")
        || v.get("format").and_then(Value::as_u64) != Some(FORMAT)
    {
        return Vec::new();
    }
    let items = v.get("items").and_then(Value::as_array).cloned();
    items
        .unwrap_or_default()
        .iter()
        .filter_map(|item| {
            let at_ms = item.get("at_ms")?.as_f64()?;
            let doc = Scenario::from_json_draft(&item.get("doc")?.to_string()).ok()?;
            Some(Recent { at_ms, doc })
        })
        .take(RECENT_KEPT)
        .collect()
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
        let text = encode(&s.doc(), undo, redo, "hello", 1234.5);
        let back = decode(&text).unwrap();
        assert_eq!(back.doc, s.doc());
        assert_eq!(back.undo, undo);
        assert_eq!(back.redo, redo);
        assert_eq!(back.example, "hello");
        assert_eq!(back.saved_at, 1234.5);
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
        let text = encode(&s.doc(), undo, redo, "", 0.0);
        let broken = text.replacen("\"undo\":[", "\"undo\":[{\"nodes\":7},", 1);
        let back = decode(&broken).unwrap();
        assert_eq!(back.dropped, 1);
        assert_eq!(back.undo.len(), 2);
    }

    #[test]
    fn of_two_copies_the_newest_that_reads_is_restored() {
        let s = work();
        let (undo, redo) = s.history();
        let older = encode(&s.doc(), undo, redo, "", 100.0);
        let mut changed = s.doc();
        changed.name = "newer".into();
        let newer = encode(&changed, undo, redo, "", 200.0);
        let pick = |copies: &[&str]| match choose(copies) {
            Some(Ok((saved, i))) => Ok((saved.doc.name, i)),
            Some(Err((why, i))) => Err((why, i)),
            None => Err(("none".into(), 99)),
        };
        assert_eq!(pick(&[&older, &newer]), Ok(("newer".into(), 1)));
        assert_eq!(pick(&[&newer, &older]), Ok(("newer".into(), 0)));
        assert_eq!(
            pick(&[&older, &older]),
            Ok(("mine".into(), 0)),
            "a tie: the first"
        );
        assert_eq!(
            pick(&["{", &older]),
            Ok(("mine".into(), 1)),
            "a broken copy loses"
        );
        let (why, i) = pick(&["[1]", "{"]).unwrap_err();
        assert!(
            why.contains("not a Switchboard autosave") && i == 0,
            "{why}"
        );
        assert!(choose(&[]).is_none());
    }

    #[test]
    fn recent_documents_are_kept_newest_first_once_each() {
        let s = work();
        let mine = s.doc();
        let other = Scenario::from_json(include_str!("../../docs/examples/hello.json")).unwrap();
        let empty = Scenario::from_json(r#"{"version":2,"nodes":[],"edges":[]}"#).unwrap();
        let mut recent = Vec::new();
        remember(&mut recent, mine.clone(), 1.0);
        remember(&mut recent, empty, 2.0);
        remember(&mut recent, other.clone(), 3.0);
        remember(&mut recent, mine.clone(), 4.0);
        let docs: Vec<(&Scenario, f64)> = recent.iter().map(|r| (&r.doc, r.at_ms)).collect();
        assert_eq!(
            docs,
            [(&mine, 4.0), (&other, 3.0)],
            "no empty canvas, no duplicate"
        );
        for i in 0..RECENT_KEPT + 3 {
            let mut d = other.clone();
            d.name = format!("copy {i}");
            remember(&mut recent, d, 10.0 + i as f64);
        }
        assert_eq!(recent.len(), RECENT_KEPT);
        assert_eq!(recent[0].doc.name, format!("copy {}", RECENT_KEPT + 2));
        let back = decode_recent(&encode_recent(&recent));
        assert_eq!(back, recent);
        // An unreadable item is left out; anything else reads as no recent documents.
        let text = encode_recent(&recent).replacen(
            "\"items\":[",
            "\"items\":[{\"at_ms\":1,\"doc\":7},",
            1,
        );
        assert_eq!(decode_recent(&text).len(), RECENT_KEPT);
        assert!(decode_recent("{").is_empty());
        assert!(decode_recent(r#"{"kind":"autosave","format":1}"#).is_empty());
    }

    #[test]
    fn only_the_newest_history_is_saved() {
        let d = Scenario::from_json(r#"{"version":1,"nodes":[],"edges":[]}"#).unwrap();
        let many = vec![d.clone(); HISTORY_SAVED + 7];
        let back = decode(&encode(&d, &many, &[], "", 0.0)).unwrap();
        assert_eq!(back.undo.len(), HISTORY_SAVED);
    }
}
