//! Share links: the whole run (scenario with its seed, the edit log, the view) compressed into
//! the URL fragment, so there is no server. No DOM here; native tests cover it.
//!
//! The fragment is `#s=` followed by URL-safe base64 (no padding) of raw DEFLATE of a compact
//! JSON text: `{"link": 2, "doc": <scenario>, "edits": [<edit>…]}`. The scenario carries its own
//! format `version`, which the core's parser migrates, and the view (its `view` field); `link`
//! versions the envelope. Link format 1 carried the view beside the document, in screen pixels
//! (`"view": [dx, dy, scale]`); such links still open, at that view. Opening a link
//! re-simulates the scenario with its seed and re-applies the edits where they were applied, so
//! it plays event for event as it did.
//!
//! Links come from outside, so decoding checks everything and fails with a message that says
//! what is wrong: never a panic, never a partial load.

use base64::Engine;
use serde_json::Value;
use switchboard_core::{Edit, Scenario};

/// What precedes the payload in the fragment.
pub const PREFIX: &str = "s=";
/// The envelope version this build writes and reads.
pub const LINK_FORMAT: u64 = 2;
/// The longest fragment read, in characters.
pub const MAX_LINK_CHARS: usize = 200_000;
/// The most bytes a link inflates to (a scenario is at most 4 MB).
pub const MAX_INFLATED_BYTES: usize = 4 << 20;
/// The most edits a link may carry.
pub const MAX_EDITS: usize = 10_000;

/// What a link carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Shared {
    /// The scenario, with its seed and view.
    pub doc: Scenario,
    /// The run's edit log.
    pub edits: Vec<Edit>,
    /// A link-format-1 view, `(dx, dy, scale)` in screen pixels; newer links keep the view in
    /// `doc.view`.
    pub screen_view: Option<(f64, f64, f64)>,
}

/// The fragment (without `#`) for a run; the view travels in `doc.view`.
pub fn encode(doc: &Scenario, edits: &[Edit]) -> String {
    let json = format!(
        "{{\"link\":{LINK_FORMAT},\"doc\":{},\"edits\":{}}}",
        serde_json::to_string(doc).expect("a scenario always serialises"),
        serde_json::to_string(edits).expect("edits always serialise"),
    );
    let packed = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), 10);
    format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(packed)
    )
}

/// Reads a fragment (with or without `#`). The error says what is wrong, in words.
pub fn decode(fragment: &str) -> Result<Shared, String> {
    let fragment = fragment.trim().trim_start_matches('#');
    let payload = fragment
        .strip_prefix(PREFIX)
        .ok_or("this link carries no scenario (its fragment does not start with s=)")?;
    if payload.len() > MAX_LINK_CHARS {
        return Err(format!(
            "the link is {} characters long; at most {MAX_LINK_CHARS} are read",
            payload.len()
        ));
    }
    let packed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("the link is damaged or cut short: it is not valid base64 ({e})"))?;
    let bytes = miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, MAX_INFLATED_BYTES)
        .map_err(|e| {
            format!(
                "the link is damaged or cut short: it does not decompress ({:?})",
                e.status
            )
        })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "the link's content is not text")?;
    let v: Value = serde_json::from_str(text)
        .map_err(|e| format!("the link's content is not valid JSON ({e})"))?;
    let format = match v.get("link").and_then(Value::as_u64) {
        Some(n @ 1..=LINK_FORMAT) => n,
        Some(n) if n > LINK_FORMAT => {
            return Err(format!(
                "the link was made by a newer Switchboard (link format {n}; this one reads {LINK_FORMAT})"
            ))
        }
        _ => return Err("the link's format is missing or unknown".into()),
    };
    let doc_value = v.get("doc").ok_or("the link carries no scenario")?;
    let doc = Scenario::from_json_draft(&doc_value.to_string()).map_err(|d| {
        let list: Vec<String> =
            d.0.iter()
                .take(5)
                .map(|x| format!("doc.{}: {}", x.path, x.message))
                .collect();
        format!("the link's scenario has problems: {}", list.join("; "))
    })?;
    let edits: Vec<Edit> = match v.get("edits") {
        None => Vec::new(),
        Some(e) => {
            let n = e.as_array().map_or(0, Vec::len);
            if n > MAX_EDITS {
                return Err(format!(
                    "the link carries {n} edits; at most {MAX_EDITS} are read"
                ));
            }
            // Item by item, so the error names the edit (a path-tracking deserializer would
            // compile every command type again, and the page is weighed in bytes).
            let items = e.as_array().ok_or("the link's edit log is not a list")?;
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    serde_json::from_value::<Edit>(item.clone()).map_err(|err| {
                        format!("the link's edit log is malformed at edits[{i}]: {err}")
                    })
                })
                .collect::<Result<Vec<Edit>, String>>()?
        }
    };
    if edits
        .windows(2)
        .any(|w| w[1].after_step < w[0].after_step || w[1].at < w[0].at)
    {
        return Err("the link's edit log is out of order".into());
    }
    let screen_view = match (format, v.get("view")) {
        (1, Some(view)) => view.as_array().and_then(|a| {
            let f = |i: usize| a.get(i).and_then(Value::as_f64).filter(|x| x.is_finite());
            let (lo, hi) = crate::view::ZOOM_LIMITS;
            Some((f(0)?, f(1)?, f(2)?.clamp(lo, hi)))
        }),
        (_, Some(_)) => {
            return Err(
                "the link has a \"view\" beside its scenario; since link format 2 the \
                        view is the scenario's own \"view\" field"
                    .into(),
            )
        }
        (_, None) => None,
    };
    Ok(Shared {
        doc,
        edits,
        screen_view,
    })
}

/// The link decoder on arbitrary input, for the fuzz target and its regression corpus: never
/// a panic; a link that decodes encodes again to a link that decodes to the same run; and a
/// link opened in the editor, played a few bounded frames, shares again as the same run (the
/// document it started from and its edits, whatever the edits changed on the canvas).
pub fn fuzz_decode(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(shared) = decode(text) else {
        return;
    };
    let again = decode(&encode(&shared.doc, &shared.edits))
        .expect("a decoded link encodes to one that decodes");
    assert_eq!(again.doc, shared.doc);
    assert_eq!(again.edits, shared.edits);
    let empty = Scenario::from_json(crate::ui::examples::EMPTY).expect("the empty document");
    let Ok(mut session) = crate::editor::Session::new(&empty) else {
        return;
    };
    if session.load_run(&shared.doc, shared.edits.clone()).is_err() {
        return;
    }
    let t = session.timeline_mut();
    t.play();
    for _ in 0..5 {
        // An edit log that does not fit the run is an error, not a panic.
        if t.tick(16.0).is_err() {
            break;
        }
    }
    // Shared again, it is the same run: positions aside (they are brought up to date).
    let (doc, edits) = session.shared_run();
    let unplaced = |mut d: Scenario| {
        d.nodes.iter_mut().for_each(|n| n.position = None);
        d
    };
    assert_eq!(unplaced(doc), unplaced(shared.doc.clone()));
    let unplaced_edits = |es: &[Edit]| -> Vec<Edit> {
        let mut es = es.to_vec();
        for e in &mut es {
            if let switchboard_core::Command::AddNode { spec }
            | switchboard_core::Command::Configure { spec, .. } = &mut e.command
            {
                spec.position = None;
            }
        }
        es
    };
    assert_eq!(unplaced_edits(&edits), unplaced_edits(&shared.edits));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Timeline;
    use switchboard_core::scenario::View;
    use switchboard_core::Command;

    fn example(name: &str) -> Scenario {
        Scenario::from_json(crate::ui::examples::get(name).unwrap()).unwrap()
    }

    /// A 20-node topology as a user would draw it: positions on the grid, a few settings.
    fn twenty_nodes() -> Scenario {
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        for i in 0..4 {
            nodes.push(format!(r#"{{"id":"svc-{i}","kind":"producer","config":{{"rate_per_s":20,"message":{{"routing_key":"orders.eu.{i}"}}}},"position":{{"x":100,"y":{}}}}}"#, 100 + i * 120));
            nodes.push(format!(r#"{{"id":"x-{i}","kind":"exchange","config":{{"type":"topic"}},"position":{{"x":360,"y":{}}}}}"#, 100 + i * 120));
            nodes.push(format!(r#"{{"id":"q-{i}","kind":"queue","config":{{"arguments":{{"x-message-ttl":60000,"x-dead-letter-exchange":"dlx"}}}},"position":{{"x":620,"y":{}}}}}"#, 100 + i * 120));
            nodes.push(format!(r#"{{"id":"worker-{i}","kind":"consumer","config":{{"prefetch_count":10,"processing":"20ms"}},"position":{{"x":880,"y":{}}}}}"#, 100 + i * 120));
            edges.push(format!(r#"{{"from":"svc-{i}","to":"x-{i}"}}"#));
            edges.push(format!(
                r#"{{"from":"x-{i}","to":"q-{i}","routing_key":"orders.#"}}"#
            ));
            edges.push(format!(r#"{{"from":"q-{i}","to":"worker-{i}"}}"#));
        }
        nodes.push(r#"{"id":"dlx","kind":"exchange","config":{"type":"fanout"},"position":{"x":360,"y":620}}"#.into());
        nodes.push(r#"{"id":"dlq","kind":"queue","position":{"x":620,"y":620}}"#.into());
        nodes.push(r#"{"id":"audit","kind":"queue","position":{"x":620,"y":740}}"#.into());
        nodes.push(r#"{"id":"auditor","kind":"consumer","position":{"x":880,"y":740}}"#.into());
        edges.push(r#"{"from":"dlx","to":"dlq"}"#.into());
        edges.push(r#"{"from":"x-0","to":"audit","routing_key":"orders.*.0"}"#.into());
        edges.push(r#"{"from":"audit","to":"auditor"}"#.into());
        let text = format!(
            r#"{{"version":2,"name":"Twenty nodes","description":"Four order services, their exchanges, queues and workers, with a dead-letter queue and an audit trail.","seed":42,"nodes":[{}],"edges":[{}]}}"#,
            nodes.join(","),
            edges.join(",")
        );
        let s = Scenario::from_json(&text).unwrap();
        assert_eq!(s.nodes.len(), 20);
        s
    }

    #[test]
    fn a_twenty_node_scenario_fits_in_2000_characters() {
        let mut s = twenty_nodes();
        s.view = Some(View {
            x: 480.5,
            y: -40.0,
            zoom: 0.8,
        });
        let fragment = encode(&s, &[]);
        let url = format!("https://switchboard.example/#{fragment}");
        assert!(url.len() <= 2000, "{} characters", url.len());
        assert_eq!(decode(&fragment).unwrap().doc, s);
    }

    #[test]
    fn a_link_replays_the_same_run_event_for_event() {
        let s = example("amqp-consumer-crash");
        let mut a = Timeline::new(&s).unwrap();
        a.play();
        for _ in 0..30 {
            a.tick(16.0).unwrap();
        }
        let consumer = a.sim().topology().node_id("flaky").unwrap();
        a.apply(Command::Crash { node: consumer }).unwrap();
        for _ in 0..30 {
            a.tick(16.0).unwrap();
        }
        a.apply(Command::Restart { node: consumer }).unwrap();
        for _ in 0..60 {
            a.tick(16.0).unwrap();
        }
        let fragment = encode(&s, a.edits());
        let shared = decode(&fragment).unwrap();
        assert_eq!(shared.edits, a.edits());
        let mut b = Timeline::new(&shared.doc)
            .unwrap()
            .with_edits(shared.edits.clone());
        b.play();
        while b.sim().now() < a.sim().now() {
            b.tick(16.0).unwrap();
        }
        b.seek(a.sim().now()).unwrap();
        assert_eq!(b.sim().steps(), a.sim().steps());
        assert_eq!(b.sim().metrics(), a.sim().metrics());
        assert_eq!(b.sim().edit_log(), a.sim().edit_log());
    }

    #[test]
    fn damaged_links_say_what_is_wrong() {
        let good = encode(&example("hello"), &[]);
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "carries no scenario"),
            ("x=abc".into(), "carries no scenario"),
            ("s=!!!".into(), "not valid base64"),
            (
                good[..good.len() / 2 + 1].to_owned(),
                "damaged or cut short",
            ),
            (
                good[..2 + (good.len() - 2) / 8 * 4].to_owned(),
                "does not decompress",
            ),
            (
                format!("s={}", "A".repeat(MAX_LINK_CHARS + 1)),
                "characters long",
            ),
            (raw(r#"{"link":99,"doc":{}}"#), "newer Switchboard"),
            (raw(r#"{"doc":{}}"#), "format is missing"),
            (raw(r#"{"link":1}"#), "carries no scenario"),
            (
                raw(
                    r#"{"link":1,"doc":{"version":1,"nodes":[{"id":"<script>","kind":"nope"}],"edges":[]}}"#,
                ),
                "doc.nodes[0]",
            ),
            (
                raw(
                    r#"{"link":1,"doc":{"version":1,"nodes":[],"edges":[]},"edits":[{"at":"1s"}]}"#,
                ),
                "edits[0]",
            ),
            (raw("not json"), "not valid JSON"),
            (
                raw(r#"{"link":2,"doc":{"version":2,"nodes":[]},"view":[1,2,3]}"#),
                "beside its scenario",
            ),
            (
                raw(r#"{"link":2,"doc":{"version":2,"nodes":[],"view":{"x":0,"y":0,"zoom":0}}}"#),
                "doc.view.zoom",
            ),
        ];
        for (fragment, why) in cases {
            let err = decode(&fragment).unwrap_err();
            assert!(err.contains(why), "{fragment:.60}: {err}");
        }
    }

    fn raw(json: &str) -> String {
        let packed = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), 6);
        format!(
            "s={}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(packed)
        )
    }

    #[test]
    fn a_format_1_link_opens_at_its_screen_view() {
        // As the previous build wrote them: a version-1 scenario, the view beside it in pixels.
        let old = raw(
            r#"{"link":1,"doc":{"version":1,"seed":7,"nodes":[{"id":"p","kind":"producer","config":{"rate_per_s":2}},{"id":"s","kind":"sink"}],"edges":[{"from":"p","to":"s"}]},"edits":[],"view":[12.5,-40,0.8]}"#,
        );
        let shared = decode(&old).unwrap();
        assert_eq!(shared.screen_view, Some((12.5, -40.0, 0.8)));
        assert_eq!(
            shared.doc.version,
            switchboard_core::scenario::FORMAT_VERSION
        );
        assert_eq!((shared.doc.seed, shared.doc.view), (7, None));
        // Written again, it is a current link with the same run.
        let again = decode(&encode(&shared.doc, &shared.edits)).unwrap();
        assert_eq!((again.doc, again.screen_view), (shared.doc, None));
    }

    #[test]
    fn hand_edited_views_are_tamed() {
        let f = raw(r#"{"link":1,"doc":{"version":1,"nodes":[],"edges":[]},"view":[1,2,1e9]}"#);
        let zoom_max = crate::view::ZOOM_LIMITS.1;
        assert_eq!(decode(&f).unwrap().screen_view, Some((1.0, 2.0, zoom_max)));
        let f = raw(r#"{"link":1,"doc":{"version":1,"nodes":[],"edges":[]},"view":["a"]}"#);
        assert_eq!(decode(&f).unwrap().screen_view, None);
    }
}
