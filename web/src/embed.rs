//! Embed mode: the options an iframe's URL gives the player, and the `postMessage` API a host
//! page drives it with. Plain parsing with native tests; `ui` wires it to the page. The
//! contract is documented in `docs/embedding.md`.

use serde_json::{json, Value};
use switchboard_core::{SimDuration, SimTime};

/// How many run controls an embedded player shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Controls {
    /// The whole run bar: play, step, back, restart, speed, scrubber, clock.
    Full,
    /// None: the host page drives the player through `postMessage`.
    None,
}

/// The options of an embedded player, from its URL query. Each has a default, so new options
/// can be added without breaking existing snippets.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbedOptions {
    /// The reader may edit the topology (drag, connect, inspector); otherwise it is a player.
    pub editable: bool,
    /// Start playing once loaded.
    pub autoplay: bool,
    /// Where the run starts (the player seeks there first).
    pub start: SimTime,
    /// Where the run stops; with `loop`, it starts again from `start`.
    pub end: Option<SimTime>,
    /// Play again from `start` on reaching `end`.
    pub looped: bool,
    /// Playback speed, 0.1× to 100×.
    pub speed: f64,
    /// Which controls are shown.
    pub controls: Controls,
    /// The only origin whose commands are obeyed and to which events are posted; `None`:
    /// commands from any origin, events to any (`"*"`).
    pub origin: Option<String>,
    /// Take the scenario's guided tour, from this step (from 0; `tour`, or `step=3` for the
    /// third). `start` and `autoplay` do not apply: the tour drives the run.
    pub tour: Option<usize>,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions {
            editable: false,
            autoplay: false,
            start: SimTime::ZERO,
            end: None,
            looped: false,
            speed: 1.0,
            controls: Controls::Full,
            origin: None,
            tour: None,
        }
    }
}

fn flag(name: &str, v: &str) -> Result<bool, String> {
    match v {
        "" | "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        other => Err(format!("{name}={other:?}: expected 1 or 0")),
    }
}

fn time(name: &str, v: &str) -> Result<SimTime, String> {
    SimDuration::parse(v)
        .map(|d| SimTime::ZERO + d)
        .map_err(|e| format!("{name}={v:?}: {e}"))
}

fn decode_component(v: &str) -> String {
    // Enough percent-decoding for origins (`https%3A%2F%2Fexample.org`).
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The embed options of a query string (`?embed&autoplay=1…`), or `None` if it is not an
/// embed. Unknown options are ignored (newer snippets in older players); bad values are errors
/// naming the option.
pub fn parse(query: &str) -> Option<Result<EmbedOptions, String>> {
    let pairs: Vec<(String, String)> = query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), decode_component(v)),
            None => (p.to_owned(), String::new()),
        })
        .collect();
    let embed = pairs.iter().find(|(k, _)| k == "embed")?;
    let mut o = EmbedOptions::default();
    let result = (|| {
        if !flag("embed", &embed.1)? {
            return Ok(None);
        }
        for (k, v) in &pairs {
            match k.as_str() {
                "editable" => o.editable = flag(k, v)?,
                "readonly" => o.editable = !flag(k, v)?,
                "autoplay" => o.autoplay = flag(k, v)?,
                "loop" => o.looped = flag(k, v)?,
                "start" => o.start = time(k, v)?,
                "end" => o.end = Some(time(k, v)?),
                "speed" => {
                    let s: f64 = v
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && (0.1..=100.0).contains(s))
                        .ok_or_else(|| format!("speed={v:?}: expected a number from 0.1 to 100"))?;
                    o.speed = s;
                }
                "controls" => {
                    o.controls = match v.as_str() {
                        "" | "1" | "full" => Controls::Full,
                        "0" | "none" => Controls::None,
                        other => return Err(format!("controls={other:?}: expected full or none")),
                    }
                }
                "tour" | "step" => {
                    if let Some(step) = tour_option(k, v)? {
                        o.tour = Some(o.tour.unwrap_or(0).max(step));
                    }
                }
                "origin" => {
                    if !(v.starts_with("https://") || v.starts_with("http://")) || v.ends_with('/')
                    {
                        return Err(format!(
                            "origin={v:?}: expected an origin such as https://example.org"
                        ));
                    }
                    o.origin = Some(v.clone());
                }
                _ => {}
            }
        }
        if o.end.is_some_and(|e| e <= o.start) {
            return Err("end must be after start".into());
        }
        if o.looped && o.end.is_none() {
            return Err("loop needs an end (for example end=10s)".into());
        }
        Ok(Some(o.clone()))
    })();
    match result {
        Ok(Some(o)) => Some(Ok(o)),
        Ok(None) => None,
        Err(e) => Some(Err(e)),
    }
}

/// What a `tour` or `step` option asks for: the tour from that step (from 0), or no tour
/// (`tour=0`). The page's own URL takes them too (`?example=…&tour&step=3`).
pub fn tour_option(name: &str, v: &str) -> Result<Option<usize>, String> {
    match name {
        "tour" => Ok(flag(name, v)?.then_some(0)),
        _ => match v.parse::<usize>() {
            Ok(n) if (1..=switchboard_core::tour::MAX_STEPS).contains(&n) => Ok(Some(n - 1)),
            _ => Err(format!(
                "step={v:?}: expected a step number from 1 to {}",
                switchboard_core::tour::MAX_STEPS
            )),
        },
    }
}

/// The tour a page's query asks for (`tour`, `step=N`), outside embed mode.
pub fn tour_of_query(query: &str) -> Result<Option<usize>, String> {
    let mut tour = None;
    for p in query.trim_start_matches('?').split('&') {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        if k == "tour" || k == "step" {
            if let Some(step) = tour_option(k, v)? {
                tour = Some(tour.unwrap_or(0).max(step));
            }
        }
    }
    Ok(tour)
}

/// A command from the host page.
#[derive(Clone, Debug, PartialEq)]
pub enum HostCommand {
    /// Start playing.
    Play,
    /// Stop playing.
    Pause,
    /// Process exactly one event.
    Step,
    /// Go to a moment of the run so far.
    Seek(SimTime),
    /// Replace the scenario (a scenario document, as in a file).
    Load(String),
    /// Take the scenario's guided tour from this step (from 0).
    Tour(usize),
}

/// Reads a message from the host page. `Ok(None)`: not for us (other libraries post messages
/// too); `Err`: for us, but malformed, with the reason to send back as an `error` event.
pub fn parse_command(data: &Value) -> Result<Option<HostCommand>, String> {
    if data.get("type").and_then(Value::as_str) != Some("switchboard") {
        return Ok(None);
    }
    let command = data
        .get("command")
        .and_then(Value::as_str)
        .ok_or("a switchboard message needs a \"command\" string")?;
    Ok(Some(match command {
        "play" => HostCommand::Play,
        "pause" => HostCommand::Pause,
        "step" => HostCommand::Step,
        "seek" => {
            let at = data
                .get("at")
                .ok_or("seek needs \"at\": \"2.5s\" or microseconds")?;
            let t = match at {
                Value::String(s) => time("at", s)?,
                Value::Number(n) => SimTime(
                    n.as_u64()
                        .ok_or("\"at\" in microseconds must be a whole number ≥ 0")?,
                ),
                _ => return Err("\"at\" must be a duration string or microseconds".into()),
            };
            HostCommand::Seek(t)
        }
        "load" => {
            let s = data
                .get("scenario")
                .ok_or("load needs \"scenario\": a scenario document")?;
            let text = match s {
                Value::String(t) => t.clone(),
                Value::Object(_) => s.to_string(),
                _ => return Err("\"scenario\" must be a scenario object or its JSON text".into()),
            };
            HostCommand::Load(text)
        }
        "tour" => {
            let step = match data.get("step") {
                None => 0,
                Some(Value::Number(n)) => {
                    let n = n.as_u64().unwrap_or(0);
                    if n == 0 || n > switchboard_core::tour::MAX_STEPS as u64 {
                        return Err(format!(
                            "\"step\" is a step number from 1 to {}",
                            switchboard_core::tour::MAX_STEPS
                        ));
                    }
                    n as usize - 1
                }
                Some(_) => return Err("\"step\" must be a number (1 for the first)".into()),
            };
            HostCommand::Tour(step)
        }
        other => {
            return Err(format!(
                "unknown command {other:?}: expected play, pause, step, seek, load or tour"
            ))
        }
    }))
}

/// An event for the host page.
pub fn event(name: &str, fields: Value) -> Value {
    let mut v = json!({ "type": "switchboard", "event": name });
    if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
        o.extend(f);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_have_defaults_and_parse_every_setting() {
        assert_eq!(parse("?example=hello"), None, "not an embed");
        assert_eq!(parse("?embed=0"), None);
        assert_eq!(parse("?embed").unwrap().unwrap(), EmbedOptions::default());
        let o = parse("?embed=1&editable=1&autoplay&loop=1&start=2s&end=10s&speed=2.5&controls=none&origin=https%3A%2F%2Fdocs.example.org&tour=0")
            .unwrap()
            .unwrap();
        assert!(o.editable && o.autoplay && o.looped);
        assert_eq!(o.start, SimTime(2_000_000));
        assert_eq!(o.end, Some(SimTime(10_000_000)));
        assert_eq!(o.speed, 2.5);
        assert_eq!(o.controls, Controls::None);
        assert_eq!(o.origin.as_deref(), Some("https://docs.example.org"));
        assert_eq!(o.tour, None, "tour=0: no tour");
        assert!(!parse("?embed&readonly=1").unwrap().unwrap().editable);
        assert_eq!(parse("?embed&tour").unwrap().unwrap().tour, Some(0));
        assert_eq!(parse("?embed&tour&step=3").unwrap().unwrap().tour, Some(2));
        assert_eq!(parse("?embed&step=3").unwrap().unwrap().tour, Some(2));
        assert_eq!(parse("?embed&tour=0").unwrap().unwrap().tour, None);
        assert_eq!(tour_of_query("?example=x&tour&step=2"), Ok(Some(1)));
        assert_eq!(tour_of_query("?example=x"), Ok(None));
        assert!(tour_of_query("?step=0").unwrap_err().contains("step="));
    }

    #[test]
    fn bad_options_name_themselves() {
        for (q, why) in [
            ("?embed&speed=1000", "speed="),
            ("?embed&speed=fast", "speed="),
            ("?embed&autoplay=maybe", "autoplay="),
            ("?embed&start=soon", "start="),
            ("?embed&start=5s&end=2s", "end must be after start"),
            ("?embed&loop=1", "loop needs an end"),
            ("?embed&controls=some", "controls="),
            ("?embed&origin=javascript:alert(1)", "origin="),
            ("?embed&origin=https://x.org/", "origin="),
            ("?embed&step=0", "step="),
            ("?embed&step=two", "step="),
            ("?embed&tour=maybe", "tour="),
        ] {
            let err = parse(q).unwrap().unwrap_err();
            assert!(err.contains(why), "{q}: {err}");
        }
    }

    #[test]
    fn host_commands_are_checked() {
        let ok = |v: Value| parse_command(&v).unwrap().unwrap();
        assert_eq!(
            ok(json!({"type":"switchboard","command":"play"})),
            HostCommand::Play
        );
        assert_eq!(
            ok(json!({"type":"switchboard","command":"pause"})),
            HostCommand::Pause
        );
        assert_eq!(
            ok(json!({"type":"switchboard","command":"step"})),
            HostCommand::Step
        );
        assert_eq!(
            ok(json!({"type":"switchboard","command":"seek","at":"1.5s"})),
            HostCommand::Seek(SimTime(1_500_000))
        );
        assert_eq!(
            ok(json!({"type":"switchboard","command":"seek","at":250})),
            HostCommand::Seek(SimTime(250))
        );
        assert!(matches!(
            ok(json!({"type":"switchboard","command":"load","scenario":{"version":1}})),
            HostCommand::Load(t) if t.contains("version")
        ));
        assert_eq!(
            ok(json!({"type":"switchboard","command":"tour","step":3})),
            HostCommand::Tour(2)
        );
        assert_eq!(
            ok(json!({"type":"switchboard","command":"tour"})),
            HostCommand::Tour(0)
        );
        assert_eq!(parse_command(&json!({"type":"other"})).unwrap(), None);
        assert_eq!(parse_command(&json!("hello")).unwrap(), None);
        for (v, why) in [
            (json!({"type":"switchboard"}), "needs a \"command\""),
            (
                json!({"type":"switchboard","command":"fly"}),
                "unknown command",
            ),
            (json!({"type":"switchboard","command":"seek"}), "seek needs"),
            (
                json!({"type":"switchboard","command":"seek","at":-1}),
                "whole number",
            ),
            (
                json!({"type":"switchboard","command":"seek","at":"x"}),
                "at=",
            ),
            (
                json!({"type":"switchboard","command":"load","scenario":5}),
                "must be a scenario",
            ),
            (
                json!({"type":"switchboard","command":"tour","step":0}),
                "step number",
            ),
            (
                json!({"type":"switchboard","command":"tour","step":"2"}),
                "must be a number",
            ),
        ] {
            let err = parse_command(&v).unwrap_err();
            assert!(err.contains(why), "{v}: {err}");
        }
    }

    #[test]
    fn events_carry_their_fields() {
        let e = event("time", json!({"now_us": 5, "steps": 2}));
        assert_eq!(e["type"], "switchboard");
        assert_eq!(e["event"], "time");
        assert_eq!(e["now_us"], 5);
    }
}
