//! Guided tours: a scenario that plays itself, stopping where something happens.
//!
//! A tour is part of the scenario document (`"tour"`, format version 12): ordered steps, each
//! with a title and a short text, where its run stops (a moment, or the first event of a kind),
//! the nodes and edges to highlight, an optional camera, an optional suggested action (the tour
//! waits for the user to do it, or does it on "Show me"), and the figure to show: numbers read
//! from the run's metrics when the step is shown, never written in the text.
//!
//! The tour is presentation: it never changes a run by itself. Its suggested actions are
//! commands like the user's own, logged in the run's edit log. [`play`] takes a tour to its
//! end headlessly ("Show me" at every step), as the tests and `switchboard tour` do; the page
//! drives the same steps one at a time.

use crate::command::Command;
use crate::scenario::{Action, Diagnostic, Scenario, View};
use crate::sim::Sim;
use crate::time::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod table;
pub use table::{Cell, Row, Table, TableReading};

/// The most steps a tour has.
pub const MAX_STEPS: usize = 40;
/// The longest step title, in characters.
pub const MAX_TITLE_CHARS: usize = 80;
/// The longest step text, in characters (two or three sentences).
pub const MAX_TEXT_CHARS: usize = 700;
/// The most numbers one figure shows.
pub const MAX_VALUES: usize = 6;
/// The longest wait for an event a step may ask for.
pub const MAX_WITHIN: SimDuration = SimDuration::from_secs(3_600);

/// A guided tour over its scenario's run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tour {
    /// What the story teaches, in one line: the promise on its card.
    pub promise: String,
    /// The steps, in order.
    pub steps: Vec<TourStep>,
}

/// One stop of a tour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TourStep {
    /// A few words.
    pub title: String,
    /// Two or three sentences: what to look at, and why it happens.
    pub text: String,
    /// Where this step's run stops.
    pub until: Until,
    /// Nodes (by id) and edges (`{"from", "to"}`) to draw attention to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub highlight: Vec<Highlight>,
    /// Where the canvas looks during the step; absent: where it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<View>,
    /// Something the user is asked to do before the step runs (crash a node, restart it…):
    /// the tour waits until it is done, by hand or with "Show me".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// How the step asks for its action ("Crash the consumer").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The numbers to show, read from the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figure: Option<Figure>,
}

/// Where a step's run stops.
#[derive(Clone, Debug, PartialEq)]
pub enum Until {
    /// At this simulated time (written `"12s"`); at once if the run is already past it.
    At(SimTime),
    /// At the first event of a kind after the step starts (written as an object).
    Event(EventStop),
}

/// A stop at the first event of a kind: `{"event": "dead_lettered", "node": "orders",
/// "within": "30s"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventStop {
    /// The event's name as trace lines write it (`crashed`, `dead_lettered`, `rebalanced`…).
    pub event: String,
    /// Only an event that names this node (in any of its fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The longest the step runs if no such event comes.
    pub within: SimDuration,
}

impl Serialize for Until {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Until::At(t) => SimDuration(t.0).serialize(s),
            Until::Event(e) => e.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Until {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::String(t) => SimDuration::parse(&t)
                .map(|d| Until::At(SimTime(d.0)))
                .map_err(D::Error::custom),
            v @ Value::Object(_) => serde_json::from_value(v)
                .map(Until::Event)
                .map_err(D::Error::custom),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::Array(_) => Err(D::Error::custom(
                "expected a time like \"12s\", or an event like {\"event\": \"crashed\", \"within\": \"10s\"}",
            )),
        }
    }
}

/// Something a step draws attention to.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Highlight {
    /// A node, by id.
    Node(String),
    /// The edge from `from` to `to` (every such edge, if there are several).
    Edge {
        /// The edge's source.
        from: String,
        /// The edge's target.
        to: String,
    },
}

impl<'de> Deserialize<'de> for Highlight {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Edge {
            from: String,
            to: String,
        }
        match Value::deserialize(d)? {
            Value::String(id) => Ok(Highlight::Node(id)),
            v @ Value::Object(_) => serde_json::from_value::<Edge>(v)
                .map(|e| Highlight::Edge {
                    from: e.from,
                    to: e.to,
                })
                .map_err(D::Error::custom),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::Array(_) => {
                Err(D::Error::custom(
                    "expected a node id, or an edge like {\"from\": \"a\", \"to\": \"b\"}",
                ))
            }
        }
    }
}

/// The numbers a step shows, each read from the run when the step is shown; or, with a
/// `sweep`, read from runs of the scenario with one setting varied, as a chart; or, with a
/// `table`, read from a run of the scenario at moments of their own, as a table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// What the numbers are.
    pub label: String,
    /// One number, or several side by side (none if the figure is a table).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Measure>,
    /// Runs the scenario from the start once per value of a setting and reads each number at
    /// the end of each run: the chart of a number against the setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Sweep>,
    /// Rows of numbers under column headings, each cell read from one run of the scenario at
    /// its own moment (which the page seeks to when the cell is chosen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
}

/// A setting varied across runs: `{"nodes": ["w1", "w2"], "setting": "prefetch_count",
/// "values": [1, 2, 5, 20, 100], "until": "3s"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// The nodes whose setting takes each value (all of them at once).
    pub nodes: Vec<String>,
    /// The setting, as the nodes' `config` names it.
    pub setting: String,
    /// The values, in the chart's order: numbers.
    pub values: Vec<f64>,
    /// How long each run lasts.
    pub until: SimDuration,
}

/// The most events one run of a sweep may take (the page runs them as a step begins).
pub const SWEEP_RUN_EVENTS: u64 = 2_000_000;

/// The most values a sweep runs.
pub const MAX_SWEEP_VALUES: usize = 12;

/// One number of a swept figure, against each value of the setting.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Series {
    /// The measure's label, or the figure's.
    pub label: String,
    /// `(setting value, the number read at the end of that run)`.
    pub points: Vec<(f64, Reading)>,
}

impl Sweep {
    /// The scenario with the sweep's setting at `value` on each of its nodes, checked as a
    /// document (without its tour).
    pub fn variant(&self, s: &Scenario, value: f64) -> Result<Scenario, String> {
        let mut doc = serde_json::to_value(s).map_err(|e| e.to_string())?;
        if let Some(o) = doc.as_object_mut() {
            o.remove("tour");
        }
        let number = if value.fract() == 0.0 && value.abs() < 9.0e15 {
            Value::from(value as i64)
        } else {
            Value::from(value)
        };
        let nodes = doc
            .get_mut("nodes")
            .and_then(Value::as_array_mut)
            .ok_or("a scenario has nodes")?;
        for id in &self.nodes {
            let n = nodes
                .iter_mut()
                .find(|n| n.get("id").and_then(Value::as_str) == Some(id.as_str()))
                .ok_or_else(|| format!("no node has id {id:?}"))?;
            let config = n
                .as_object_mut()
                .ok_or("a node is an object")?
                .entry("config")
                .or_insert_with(|| Value::Object(Default::default()));
            match config {
                Value::Object(c) => {
                    c.insert(self.setting.clone(), number.clone());
                }
                Value::Null
                | Value::Bool(_)
                | Value::Number(_)
                | Value::String(_)
                | Value::Array(_) => {
                    *config = serde_json::json!({ self.setting.clone(): number.clone() });
                }
            }
        }
        Scenario::from_json(&doc.to_string()).map_err(|d| {
            format!(
                "with {} {}: {}",
                self.setting,
                number,
                d.0.first().map(ToString::to_string).unwrap_or_default()
            )
        })
    }

    /// Runs `s` once per value and reads the figure's numbers at the end of each run.
    pub fn run(&self, s: &Scenario, figure: &Figure) -> Result<Vec<Series>, String> {
        let mut series: Vec<Series> = figure
            .values
            .iter()
            .map(|m| Series {
                label: m.label.clone().unwrap_or_else(|| figure.label.clone()),
                points: Vec::with_capacity(self.values.len()),
            })
            .collect();
        for &v in &self.values {
            let variant = self.variant(s, v)?;
            let mut sim = Sim::new(&variant).map_err(|d| d.to_string())?;
            if !sim
                .advance_to_bounded(SimTime(self.until.0), SWEEP_RUN_EVENTS)
                .reached
            {
                return Err(format!(
                    "with {} {v}, the run needs more than {SWEEP_RUN_EVENTS} events to reach {}",
                    self.setting, self.until
                ));
            }
            sim.drain_events().for_each(drop);
            let readings = figure.read(&metrics_value(&sim));
            for (line, r) in series.iter_mut().zip(readings) {
                line.points.push((v, r));
            }
        }
        Ok(series)
    }
}

/// One number read from the run's metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// What this number is, beside the others (absent: the figure's label says it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The node whose metric this is; absent: the whole run's (`messages.consumed`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The metric, as the node's metrics name it (`received`, `ready`, `load_multiple`),
    /// with `.` into a part of it (`latency_us.1`, `calls.0.retries`).
    pub metric: String,
    /// Divides by this other number (a ratio: attempts per request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Per>,
    /// How the number is written.
    #[serde(default)]
    pub unit: Unit,
}

/// The denominator of a ratio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Per {
    /// As [`Measure::node`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// As [`Measure::metric`].
    pub metric: String,
}

/// How a number is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A count: `1,204`.
    #[default]
    Count,
    /// A multiple: `64.0×`.
    Times,
    /// A fraction written as a percentage: `0.25` is `25.0 %`.
    Percent,
    /// Microseconds written as a duration: `1.25 s`, `80 ms`.
    Us,
    /// A rate: `16.8/s`.
    PerS,
}

/// One number of a figure, as read from the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reading {
    /// The measure's label, or the figure's.
    pub label: String,
    /// The number; `None` while the run has not measured it yet (a latency before any reply).
    pub value: Option<f64>,
    /// The number as written for people (`—` without one).
    pub shown: String,
}

impl Unit {
    /// `v` written in this unit.
    pub fn show(self, v: f64) -> String {
        match self {
            Unit::Count => {
                if (v - v.round()).abs() < 1e-9 {
                    group_thousands(v.round() as i64)
                } else {
                    format!("{v:.2}")
                }
            }
            Unit::Times => format!("{v:.1}×"),
            Unit::Percent => format!("{:.1} %", v * 100.0),
            Unit::Us => {
                if v >= 1_000_000.0 {
                    format!("{:.2} s", v / 1_000_000.0)
                } else if v >= 1_000.0 {
                    format!("{:.0} ms", v / 1_000.0)
                } else {
                    format!("{v:.0} µs")
                }
            }
            Unit::PerS => format!("{v:.1}/s"),
        }
    }
}

fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// The run's metrics as JSON, the form figures read (one serialisation per reading).
pub fn metrics_value(sim: &Sim) -> Value {
    serde_json::to_value(sim.metrics()).expect("metrics always serialise")
}

/// Why a figure could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FigureError {
    /// No node of that id (it was removed by an edit).
    #[error("there is no node {0:?}")]
    NoNode(String),
    /// The node (or the run) has no such metric.
    #[error("{owner} has no metric {metric:?}")]
    NoMetric {
        /// The node, or "the run".
        owner: String,
        /// The path asked for.
        metric: String,
    },
}

/// The value at `metric` of the node `node` (or of the whole run): `Ok(None)` while it is not
/// measured (a `null`), an error if there is no such node or metric.
pub fn read_metric(
    metrics: &Value,
    node: Option<&str>,
    metric: &str,
) -> Result<Option<f64>, FigureError> {
    let (owner, root) = match node {
        None => ("the run".to_owned(), metrics),
        Some(id) => {
            let nodes = metrics.get("nodes").and_then(Value::as_array);
            let found = nodes.into_iter().flatten().find(|n| {
                n.get("name").and_then(Value::as_str) == Some(id)
                    && n.get("removed").and_then(Value::as_bool) != Some(true)
            });
            (
                format!("node {id:?}"),
                found.ok_or_else(|| FigureError::NoNode(id.to_owned()))?,
            )
        }
    };
    let missing = || FigureError::NoMetric {
        owner: owner.clone(),
        metric: metric.to_owned(),
    };
    // Messages dropped for a reason nothing was dropped for yet: none.
    if node.is_none() && metric.starts_with("messages.dropped.") {
        let reason = &metric["messages.dropped.".len()..];
        let by_reason = root.get("messages").and_then(|m| m.get("dropped"));
        if by_reason.is_some_and(|d| d.get(reason).is_none()) {
            return Ok(Some(0.0));
        }
    }
    let mut at = root;
    for part in metric.split('.') {
        at = match at {
            Value::Object(m) => m.get(part),
            Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => None,
        }
        .ok_or_else(missing)?;
    }
    match at {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        Value::Bool(b) => Ok(Some(f64::from(u8::from(*b)))),
        Value::String(_) | Value::Array(_) | Value::Object(_) => Err(missing()),
    }
}

impl Measure {
    /// The number now, from [`metrics_value`]'s form.
    pub fn value(&self, metrics: &Value) -> Result<Option<f64>, FigureError> {
        let Some(v) = read_metric(metrics, self.node.as_deref(), &self.metric)? else {
            return Ok(None);
        };
        let Some(per) = &self.per else {
            return Ok(Some(v));
        };
        match read_metric(metrics, per.node.as_deref(), &per.metric)? {
            Some(d) if d != 0.0 => Ok(Some(v / d)),
            _ => Ok(None),
        }
    }
}

impl Figure {
    /// Its numbers now. A number that cannot be read (its node was removed by an edit) is
    /// shown as `—` with why.
    pub fn read(&self, metrics: &Value) -> Vec<Reading> {
        self.values
            .iter()
            .map(|m| {
                let label = m.label.clone().unwrap_or_else(|| self.label.clone());
                match m.value(metrics) {
                    Ok(Some(v)) => Reading {
                        label,
                        value: Some(v),
                        shown: m.unit.show(v),
                    },
                    Ok(None) => Reading {
                        label,
                        value: None,
                        shown: "—".to_owned(),
                    },
                    Err(e) => Reading {
                        label,
                        value: None,
                        shown: format!("— ({e})"),
                    },
                }
            })
            .collect()
    }
}

/// Whether the trace line of an event (`crate::trace::event_json`) is the one `stop` waits
/// for: its name, and the node among its fields.
pub fn event_matches(line: &Value, stop: &EventStop) -> bool {
    if line.get("type").and_then(Value::as_str) != Some(stop.event.as_str()) {
        return false;
    }
    let Some(node) = &stop.node else {
        return true;
    };
    let names = |v: &Value| match v {
        Value::String(s) => s == node,
        Value::Array(a) => a.iter().any(|x| x.as_str() == Some(node.as_str())),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Object(_) => false,
    };
    line.as_object()
        .is_some_and(|o| o.iter().any(|(k, v)| k != "type" && names(v)))
}

/// The most events [`TourStep::stop`] looks through for an event.
pub const STOP_SEARCH_EVENTS: u64 = 5_000_000;

impl TourStep {
    /// Where this step's run stops, for a run that is at `sim`'s moment now (after the step's
    /// action, if it has one). For an event, a copy of the run is played ahead to find it;
    /// `sim` is not changed.
    pub fn stop(&self, sim: &Sim) -> SimTime {
        match &self.until {
            Until::At(t) => (*t).max(sim.now()),
            Until::Event(e) => {
                let limit = SimTime(sim.now().0.saturating_add(e.within.0));
                let mut ahead = sim.snapshot();
                // What already happened (a command just applied, say) is not ahead.
                ahead.drain_events().for_each(drop);
                let mut looked = 0;
                while looked < STOP_SEARCH_EVENTS {
                    match ahead.next_event_time() {
                        Some(t) if t <= limit => {}
                        _ => return limit,
                    }
                    ahead.step();
                    looked += 1;
                    let topo = ahead.topology_shared();
                    for ev in ahead.drain_events() {
                        // The name first: a trace line is built only for an event of the kind.
                        if ev.kind.name() == e.event
                            && event_matches(&crate::trace::event_json(&ev, &topo), e)
                        {
                            return ev.at;
                        }
                    }
                }
                // Out of budget: stop where the search got to, never past the event.
                ahead.now()
            }
        }
    }

    /// The command that does this step's suggested action in `sim` now (what "Show me"
    /// applies); `None` if it has none or its node is gone.
    pub fn command(&self, sim: &Sim) -> Option<Command> {
        sim.command_for(self.action.as_ref()?)
    }

    /// Whether `command`, applied by the user in `sim`'s run, is this step's suggested action
    /// done by hand: the same kind of action on the node of that name (a publish by that
    /// producer, whatever its message). Names are read from the topology, which keeps a
    /// removed node's, so a removal done by hand is recognised after it.
    pub fn done_by(&self, command: &Command, sim: &Sim) -> bool {
        let Some(action) = &self.action else {
            return false;
        };
        let topo = sim.topology();
        let named = |id: &crate::id::NodeId, name: &str| {
            id.index() < topo.nodes.len() && topo.node(*id).name == name
        };
        match (action, command) {
            (Action::Crash { node }, Command::Crash { node: id })
            | (Action::Restart { node }, Command::Restart { node: id })
            | (Action::Pause { node }, Command::Pause { node: id })
            | (Action::Resume { node }, Command::Resume { node: id })
            | (Action::RemoveNode { node }, Command::RemoveNode { node: id })
            | (Action::Publish { node, .. }, Command::Publish { node: id, .. }) => named(id, node),
            _ => false,
        }
    }
}

impl Tour {
    /// Whether the tour still fits `s` (every node, edge and action it names is there): the
    /// editor keeps a tour with the document while it does.
    pub fn fits(&self, s: &Scenario) -> bool {
        let mut diags = Vec::new();
        check(s, self, &|id| s.node_index(id).is_some(), &mut diags);
        diags.is_empty()
    }
}

/// The actions a tour may suggest: those a user does from the page with one control.
pub const SUGGESTED_ACTIONS: &[&str] = &[
    "crash",
    "restart",
    "pause",
    "resume",
    "remove_node",
    "publish",
];

/// What one step of [`play`] came to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepOutcome {
    /// The step's title.
    pub title: String,
    /// When its run stopped.
    pub stopped_at: SimTime,
    /// Its figure's numbers there (empty without a figure).
    pub readings: Vec<Reading>,
    /// A swept figure's chart: each number against the setting.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sweep: Vec<Series>,
    /// A figure's table, filled from its run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<TableReading>,
}

/// Why [`play`] could not take a tour to its end.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlayError {
    /// The scenario has no tour.
    #[error("the scenario has no tour")]
    NoTour,
    /// A step's suggested action was refused.
    #[error("tour.steps[{step}].action was refused: {why}")]
    Refused {
        /// The step.
        step: usize,
        /// Why.
        why: String,
    },
    /// A step's sweep could not run.
    #[error("tour.steps[{step}].figure.sweep: {why}")]
    Sweep {
        /// The step.
        step: usize,
        /// Why.
        why: String,
    },
    /// A step's table could not be filled.
    #[error("tour.steps[{step}].figure.table: {why}")]
    Table {
        /// The step.
        step: usize,
        /// Why.
        why: String,
    },
}

/// Takes `sim`'s scenario's tour to its end, as a user pressing "Show me" and "Next" at every
/// step would: `on_step` sees the run where each step stops. Returns each step's outcome.
pub fn play(
    sim: &mut Sim,
    mut on_step: impl FnMut(usize, &Sim),
) -> Result<Vec<StepOutcome>, PlayError> {
    let tour = sim.scenario().tour.clone().ok_or(PlayError::NoTour)?;
    let mut out = Vec::with_capacity(tour.steps.len());
    for (i, step) in tour.steps.iter().enumerate() {
        if step.action.is_some() {
            let command = step.command(sim).ok_or_else(|| PlayError::Refused {
                step: i,
                why: "its node is gone".into(),
            })?;
            sim.apply(command).map_err(|e| PlayError::Refused {
                step: i,
                why: e.to_string(),
            })?;
        }
        let stop = step.stop(sim);
        sim.advance_to(stop);
        sim.drain_events().for_each(drop);
        on_step(i, sim);
        let readings = match &step.figure {
            Some(f) => f.read(&metrics_value(sim)),
            None => Vec::new(),
        };
        let sweep = match step
            .figure
            .as_ref()
            .and_then(|f| Some((f, f.sweep.as_ref()?)))
        {
            Some((f, sw)) => sw
                .run(sim.scenario(), f)
                .map_err(|why| PlayError::Sweep { step: i, why })?,
            None => Vec::new(),
        };
        let table = match step.figure.as_ref().and_then(|f| f.table.as_ref()) {
            Some(t) => Some(
                t.run(sim.scenario())
                    .map_err(|why| PlayError::Table { step: i, why })?,
            ),
            None => None,
        };
        out.push(StepOutcome {
            title: step.title.clone(),
            stopped_at: sim.now(),
            readings,
            sweep,
            table,
        });
    }
    Ok(out)
}

/// Metric fields a node's metrics leave out while they are empty or unset, so that a figure
/// asking for one is not refused because the run has not set it yet.
const SOMETIMES_ABSENT: &[&str] = &[
    "removed",
    "calls",
    "breaker",
    "breaker_until",
    "bulkhead",
    "projection",
    "processing",
    "handler_step",
];

/// The tour's checks that need the run: every figure's metric is one its node has. `sim` is
/// the scenario's run at time zero.
pub(crate) fn check_metrics(tour: &Tour, sim: &Sim, diags: &mut Vec<Diagnostic>) {
    let metrics = metrics_value(sim);
    for (i, step) in tour.steps.iter().enumerate() {
        let Some(f) = &step.figure else { continue };
        if let Some(sw) = &f.sweep {
            for (j, &v) in sw.values.iter().enumerate() {
                if let Err(why) = sw.variant(sim.scenario(), v) {
                    diags.push(Diagnostic::new(
                        format!("tour.steps[{i}].figure.sweep.values[{j}]"),
                        why,
                    ));
                }
            }
        }
        for (j, m) in f.values.iter().enumerate() {
            let path = format!("tour.steps[{i}].figure.values[{j}]");
            check_metric(&metrics, m.node.as_deref(), &m.metric, &path, diags);
            if let Some(per) = &m.per {
                let path = format!("{path}.per");
                check_metric(&metrics, per.node.as_deref(), &per.metric, &path, diags);
            }
        }
        for (r, row) in f.table.iter().flat_map(|t| t.rows.iter().enumerate()) {
            for (j, c) in row.cells.iter().enumerate() {
                let path = format!("tour.steps[{i}].figure.table.rows[{r}].cells[{j}]");
                check_metric(&metrics, c.node.as_deref(), &c.metric, &path, diags);
                if let Some(per) = &c.per {
                    let path = format!("{path}.per");
                    check_metric(&metrics, per.node.as_deref(), &per.metric, &path, diags);
                }
            }
        }
    }
}

fn check_metric(
    metrics: &Value,
    node: Option<&str>,
    metric: &str,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let first = metric.split('.').next().unwrap_or_default();
    if SOMETIMES_ABSENT.contains(&first) {
        return;
    }
    // Only the first name is checked: a part (`latency_us.1`, `calls.0.retries`) may not
    // exist until the run has measured it.
    let owner = match node {
        None => Some(metrics),
        Some(id) => metrics
            .get("nodes")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .find(|n| n.get("name").and_then(Value::as_str) == Some(id))
            }),
    };
    let Some(owner) = owner else {
        return; // an unknown node is reported by the document's checks
    };
    if owner.get(first).is_none() {
        let mut names: Vec<&str> = owner
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        names.retain(|n| *n != "name" && *n != "kind" && *n != "nodes");
        let who = node.map_or("the run".to_owned(), |id| format!("node {id:?}"));
        diags.push(Diagnostic::new(
            format!("{path}.metric"),
            format!("{who} has no metric {first:?}; it has {}", names.join(", ")),
        ));
    }
}

/// The tour's checks against the document (ids, times, lengths), under `tour`.
pub(crate) fn check(
    s: &Scenario,
    tour: &Tour,
    has_node: &dyn Fn(&str) -> bool,
    diags: &mut Vec<Diagnostic>,
) {
    let text = |v: &str, path: String, max: usize, diags: &mut Vec<Diagnostic>| {
        if v.trim().is_empty() {
            diags.push(Diagnostic::new(path, "must not be empty"));
        } else if v.chars().count() > max {
            diags.push(Diagnostic::new(
                path,
                format!("longer than {max} characters"),
            ));
        }
    };
    text(&tour.promise, "tour.promise".into(), 160, diags);
    if tour.steps.is_empty() {
        diags.push(Diagnostic::new(
            "tour.steps",
            "a tour has at least one step",
        ));
    }
    if tour.steps.len() > MAX_STEPS {
        diags.push(Diagnostic::new(
            "tour.steps",
            format!("{} steps; the limit is {MAX_STEPS}", tour.steps.len()),
        ));
        return;
    }
    let node = |id: &str, path: String, diags: &mut Vec<Diagnostic>| {
        if !has_node(id) {
            diags.push(Diagnostic::new(path, format!("no node has id {id:?}")));
        }
    };
    let mut last_at: Option<(usize, SimTime)> = None;
    for (i, step) in tour.steps.iter().enumerate() {
        let at = format!("tour.steps[{i}]");
        text(&step.title, format!("{at}.title"), MAX_TITLE_CHARS, diags);
        text(&step.text, format!("{at}.text"), MAX_TEXT_CHARS, diags);
        match &step.until {
            Until::At(t) => {
                if *t > SimTime(crate::scenario::parse::MAX_ACTION_TIME.0) {
                    diags.push(Diagnostic::new(
                        format!("{at}.until"),
                        format!(
                            "{} is out of range: at most {}",
                            SimDuration(t.0),
                            crate::scenario::parse::MAX_ACTION_TIME
                        ),
                    ));
                }
                if let Some((j, before)) = last_at {
                    if *t < before {
                        diags.push(Diagnostic::new(
                            format!("{at}.until"),
                            format!(
                                "{} is before tour.steps[{j}] stops ({}): steps run forwards",
                                SimDuration(t.0),
                                SimDuration(before.0)
                            ),
                        ));
                    }
                }
                last_at = Some((i, *t));
            }
            Until::Event(e) => {
                if e.event.trim().is_empty() {
                    diags.push(Diagnostic::new(
                        format!("{at}.until.event"),
                        "must not be empty",
                    ));
                }
                if let Some(n) = &e.node {
                    node(n, format!("{at}.until.node"), diags);
                }
                if e.within == SimDuration::ZERO || e.within > MAX_WITHIN {
                    diags.push(Diagnostic::new(
                        format!("{at}.until.within"),
                        format!("expected more than 0s and at most {MAX_WITHIN}"),
                    ));
                }
            }
        }
        for (j, h) in step.highlight.iter().enumerate() {
            let path = format!("{at}.highlight[{j}]");
            match h {
                Highlight::Node(id) => node(id, path, diags),
                Highlight::Edge { from, to } => {
                    if !s.edges.iter().any(|e| &e.from == from && &e.to == to) {
                        diags.push(Diagnostic::new(
                            path,
                            format!("no edge goes from {from:?} to {to:?}"),
                        ));
                    }
                }
            }
        }
        if let Some(v) = step.view {
            crate::scenario::parse::check_view(v, &format!("{at}.view"), diags);
        }
        match (&step.action, &step.prompt) {
            (Some(a), prompt) => {
                let name = action_name(a);
                if !SUGGESTED_ACTIONS.contains(&name.as_str()) {
                    diags.push(Diagnostic::new(
                        format!("{at}.action.do"),
                        format!(
                            "a tour suggests one of {}, not {name:?}",
                            SUGGESTED_ACTIONS.join(", ")
                        ),
                    ));
                }
                for (field, id) in a.node_fields() {
                    node(id, format!("{at}.action.{field}"), diags);
                }
                if prompt.as_deref().is_none_or(|p| p.trim().is_empty()) {
                    diags.push(Diagnostic::new(
                        format!("{at}.prompt"),
                        "a step with an action says what to do (\"Crash the consumer\")",
                    ));
                }
                if let (Some(id), Some(asks)) = (a.nodes().first(), suggested_rule(a)) {
                    if let Some(n) = s.nodes.iter().find(|n| &n.id == id) {
                        if let Err(why) = crate::model::action_rule(id, &n.kind, asks) {
                            diags.push(Diagnostic::new(format!("{at}.action.node"), why));
                        }
                    }
                }
            }
            (None, Some(_)) => diags.push(Diagnostic::new(
                format!("{at}.prompt"),
                "a prompt goes with an action",
            )),
            (None, None) => {}
        }
        if let Some(f) = &step.figure {
            let path = format!("{at}.figure");
            text(&f.label, format!("{path}.label"), MAX_TITLE_CHARS, diags);
            let least = usize::from(f.table.is_none());
            if f.values.len() < least || f.values.len() > MAX_VALUES {
                diags.push(Diagnostic::new(
                    format!("{path}.values"),
                    format!("expected from {least} to {MAX_VALUES} numbers"),
                ));
            }
            if let Some(t) = &f.table {
                if f.sweep.is_some() {
                    diags.push(Diagnostic::new(
                        format!("{path}.table"),
                        "a figure has a sweep or a table, not both",
                    ));
                }
                // The table is read from the scenario's own run: the moments it reads are
                // ones the tour's run has reached, and no suggested action has changed it.
                match &step.until {
                    Until::At(stop) => {
                        t.check_moments(&format!("{path}.table"), *stop, diags);
                    }
                    Until::Event(_) => diags.push(Diagnostic::new(
                        format!("{at}.until"),
                        "a step with a table stops at a time, so that its cells' moments are in the run",
                    )),
                }
                if let Some(j) = tour.steps[..=i].iter().position(|s| s.action.is_some()) {
                    diags.push(Diagnostic::new(
                        format!("{path}.table"),
                        format!(
                            "a table is read from the scenario's own run, which tour.steps[{j}].action changes: \
                             script the action in the document's actions instead"
                        ),
                    ));
                }
                t.check(&format!("{path}.table"), has_node, diags);
            }
            for (j, m) in f.values.iter().enumerate() {
                let path = format!("{path}.values[{j}]");
                if let Some(n) = &m.node {
                    node(n, format!("{path}.node"), diags);
                }
                if let Some(Per { node: Some(n), .. }) = &m.per {
                    node(n, format!("{path}.per.node"), diags);
                }
                if m.metric.trim().is_empty() {
                    diags.push(Diagnostic::new(
                        format!("{path}.metric"),
                        "must not be empty",
                    ));
                }
            }
            if let Some(sw) = &f.sweep {
                let path = format!("{path}.sweep");
                if sw.nodes.is_empty() {
                    diags.push(Diagnostic::new(
                        format!("{path}.nodes"),
                        "name at least one node",
                    ));
                }
                for (j, id) in sw.nodes.iter().enumerate() {
                    node(id, format!("{path}.nodes[{j}]"), diags);
                }
                if sw.values.len() < 2 || sw.values.len() > MAX_SWEEP_VALUES {
                    diags.push(Diagnostic::new(
                        format!("{path}.values"),
                        format!("expected from 2 to {MAX_SWEEP_VALUES} values"),
                    ));
                }
                if sw.until == SimDuration::ZERO || sw.until > MAX_WITHIN {
                    diags.push(Diagnostic::new(
                        format!("{path}.until"),
                        format!("expected more than 0s and at most {MAX_WITHIN}"),
                    ));
                }
            }
        }
    }
}

/// An action's name as documents write it (its `"do"`, from the same serde tag).
fn action_name(a: &Action) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.get("do")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The rule a suggested action is checked by, for the kinds that have one.
fn suggested_rule(a: &Action) -> Option<crate::model::Action> {
    match a {
        Action::Publish { .. } => Some(crate::model::Action::Publish),
        Action::Crash { .. } => Some(crate::model::Action::Crash),
        Action::Restart { .. } => Some(crate::model::Action::Restart),
        Action::Pause { .. } => Some(crate::model::Action::Pause),
        Action::Resume { .. } => Some(crate::model::Action::Resume),
        Action::Ack { .. }
        | Action::Nack { .. }
        | Action::Reject { .. }
        | Action::RemoveNode { .. }
        | Action::AddEdge { .. }
        | Action::RemoveEdge { .. }
        | Action::Seek { .. }
        | Action::LoseAck { .. }
        | Action::Configure { .. }
        | Action::SetPolicy { .. }
        | Action::ClearPolicy { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_write_numbers_for_people() {
        assert_eq!(Unit::Count.show(1_204_332.0), "1,204,332");
        assert_eq!(Unit::Count.show(-5.0), "-5");
        assert_eq!(Unit::Count.show(2.5), "2.50");
        assert_eq!(Unit::Times.show(64.0), "64.0×");
        assert_eq!(Unit::Percent.show(0.25), "25.0 %");
        assert_eq!(Unit::Us.show(1_250_000.0), "1.25 s");
        assert_eq!(Unit::Us.show(80_400.0), "80 ms");
        assert_eq!(Unit::Us.show(250.0), "250 µs");
        assert_eq!(Unit::PerS.show(16.84), "16.8/s");
    }

    #[test]
    fn metrics_are_read_by_path() {
        let m = serde_json::json!({
            "messages": {"consumed": 7, "dropped": {"expired": 2}},
            "nodes": [
                {"name": "a", "received": 3, "latency_us": [10, 20, null]},
                {"name": "b", "removed": true, "received": 9},
            ]
        });
        assert_eq!(read_metric(&m, None, "messages.consumed"), Ok(Some(7.0)));
        assert_eq!(
            read_metric(&m, None, "messages.dropped.expired"),
            Ok(Some(2.0))
        );
        assert_eq!(read_metric(&m, Some("a"), "latency_us.1"), Ok(Some(20.0)));
        assert_eq!(read_metric(&m, Some("a"), "latency_us.2"), Ok(None));
        assert!(matches!(
            read_metric(&m, Some("a"), "sent"),
            Err(FigureError::NoMetric { .. })
        ));
        assert_eq!(
            read_metric(&m, Some("b"), "received"),
            Err(FigureError::NoNode("b".into()))
        );
        let ratio = Measure {
            label: None,
            node: Some("a".into()),
            metric: "received".into(),
            per: Some(Per {
                node: None,
                metric: "messages.consumed".into(),
            }),
            unit: Unit::Times,
        };
        assert_eq!(ratio.value(&m), Ok(Some(3.0 / 7.0)));
    }

    #[test]
    fn an_event_stop_matches_its_name_and_node() {
        let stop = EventStop {
            event: "dead_lettered".into(),
            node: Some("orders".into()),
            within: SimDuration::from_secs(1),
        };
        let yes = serde_json::json!({"type": "dead_lettered", "queue": "orders"});
        let other_node = serde_json::json!({"type": "dead_lettered", "queue": "audit"});
        let other_kind = serde_json::json!({"type": "enqueued", "queue": "orders"});
        let in_list = serde_json::json!({"type": "dead_lettered", "queues": ["x", "orders"]});
        assert!(event_matches(&yes, &stop));
        assert!(!event_matches(&other_node, &stop));
        assert!(!event_matches(&other_kind, &stop));
        assert!(event_matches(&in_list, &stop));
    }
}
