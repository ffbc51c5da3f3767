//! The editing session: the document on the canvas, undo and redo, and how an edit reaches the
//! running simulation. No DOM here, so native tests drive it.
//!
//! # One truth
//!
//! What the canvas shows is the simulation's live topology at the current moment, with node
//! positions from the editor. An edit builds a new document from that, validates it with the
//! core's rules, and then:
//!
//! - before the run has started, rebuilds the simulation from the new document;
//! - once it runs, turns the difference into live commands ([`diff`]) applied at the current
//!   simulated moment, with the broker semantics the core defines (a queue whose arguments
//!   change is deleted and declared again, as RabbitMQ requires). After a seek back, that forks
//!   the run.
//!
//! Undo and redo swap whole documents and go through the same path, so an undo while running is
//! itself a live edit.

use crate::scene::Scene;
use crate::timeline::{Timeline, TimelineError};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use switchboard_core::scenario::{EdgeSpec, NodeKind, NodeSpec, Position};
use switchboard_core::topology::Topology;
use switchboard_core::{Command, Diagnostics, EdgeId, Edit, Scenario};

/// Identifies a state of the drawn topology: the document revision, the topology's node and
/// edge counts, and how many of them are removed. Views derived from the topology are cached
/// on it.
pub type TopologyVersion = (u64, usize, usize, usize, u64);

/// The most undo steps kept.
pub const UNDO_DEPTH: usize = 200;

/// Why an edit was refused. Nothing changed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EditError {
    /// The edited document breaks a rule; each diagnostic names where.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// The running simulation refused the change.
    #[error("{0}")]
    Refused(#[from] TimelineError),
    /// The edit names something that is not there.
    #[error("{0}")]
    Missing(String),
}

/// The editing session.
pub struct Session {
    timeline: Timeline,
    /// Name, description, seed and scripted actions of the document.
    base: Scenario,
    /// Where each node is drawn, by name.
    positions: BTreeMap<String, Position>,
    undo: Vec<Scenario>,
    redo: Vec<Scenario>,
    /// Counts document changes (edits, undo, redo, loads, restarts).
    revision: u64,
    /// The scene for the topology version it was laid out for (see [`Session::scene`]).
    scene: RefCell<Option<(TopologyVersion, Rc<Scene>)>>,
}

impl Session {
    /// A session over `scenario`, paused at time zero.
    pub fn new(scenario: &Scenario) -> Result<Session, Diagnostics> {
        let mut s = Session {
            timeline: Timeline::new(scenario)?,
            base: scenario.clone(),
            positions: BTreeMap::new(),
            undo: Vec::new(),
            redo: Vec::new(),
            revision: 0,
            scene: RefCell::new(None),
        };
        s.adopt_positions(scenario);
        Ok(s)
    }

    /// The run.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The run, to drive it.
    pub fn timeline_mut(&mut self) -> &mut Timeline {
        &mut self.timeline
    }

    /// What the scenario shows (its `description`), as the canvas caption shows it.
    pub fn description(&self) -> &str {
        &self.base.description
    }

    /// Where a node is drawn, if it has been placed.
    pub fn position(&self, name: &str) -> Option<Position> {
        self.positions.get(name).copied()
    }

    /// A number that changes whenever the topology may have: a document change, a live edit,
    /// or the run itself removing something (a scripted removal, an expired queue). Views
    /// derived from the topology can be cached on it.
    pub fn topology_version(&self) -> TopologyVersion {
        let t = self.timeline.sim().topology();
        let removed = t.nodes.iter().filter(|n| n.removed).count()
            + t.edges.iter().filter(|e| e.removed).count();
        // Services' inputs (the frames drawn around them) change with a live configure, which
        // the counts above do not see: a fingerprint of them.
        let mut inputs = 0u64;
        for (i, n) in t.nodes.iter().enumerate() {
            if let switchboard_core::scenario::NodeKind::Http(
                switchboard_core::http::HttpKind::Service(s),
            ) = &n.kind
            {
                for name in &s.inputs {
                    for b in (i as u64).to_le_bytes().iter().chain(name.as_bytes()) {
                        inputs = (inputs ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
                    }
                }
            }
        }
        (self.revision, t.nodes.len(), t.edges.len(), removed, inputs)
    }

    /// The undo and redo stacks (oldest first), for autosave.
    pub fn history(&self) -> (&[Scenario], &[Scenario]) {
        (&self.undo, &self.redo)
    }

    /// Opens a shared run: [`Session::load`], then the run's edit log to replay as it plays.
    pub fn load_run(&mut self, scenario: &Scenario, edits: Vec<Edit>) -> Result<(), EditError> {
        self.load(scenario)?;
        let t = std::mem::replace(
            &mut self.timeline,
            Timeline::new(scenario).map_err(EditError::Invalid)?,
        );
        self.timeline = t.with_edits(edits);
        Ok(())
    }

    /// Restores saved work: the document with a fresh run, and its undo history.
    pub fn restore(
        &mut self,
        doc: &Scenario,
        undo: Vec<Scenario>,
        redo: Vec<Scenario>,
    ) -> Result<(), EditError> {
        let speed = self.timeline.speed();
        self.timeline = Timeline::new(doc).map_err(EditError::Invalid)?;
        self.timeline.set_speed(speed);
        self.base = doc.clone();
        self.positions.clear();
        self.adopt_positions(doc);
        self.undo = undo;
        self.redo = redo;
        self.revision += 1;
        Ok(())
    }

    /// Puts saved work under what is open now: its document becomes the next Undo, its own
    /// history below that. A page opened on an example or a link over earlier work keeps that
    /// work this way. The oldest steps go past [`UNDO_DEPTH`].
    pub fn keep_beneath(&mut self, doc: &Scenario, undo: Vec<Scenario>) {
        let mut below = undo;
        below.push(doc.clone());
        below.append(&mut self.undo);
        let excess = below.len().saturating_sub(UNDO_DEPTH);
        below.drain(..excess);
        self.undo = below;
        self.revision += 1;
    }

    /// How many document changes there have been (autosave saves when it moves).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Where everything is drawn. Laid out once per topology version, not per frame: the
    /// frame loop, the SVG and hit tests all read this.
    pub fn scene(&self) -> Rc<Scene> {
        let version = self.topology_version();
        let mut cache = self.scene.borrow_mut();
        match &*cache {
            Some((v, scene)) if *v == version => scene.clone(),
            _ => {
                let scene = Rc::new(Scene::of(self));
                *cache = Some((version, scene.clone()));
                scene
            }
        }
    }

    /// True if there is something to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// True if there is something to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Whether the document came with a guided tour (it may no longer fit: see `doc`).
    pub fn has_tour(&self) -> bool {
        self.base.tour.is_some()
    }

    /// The document as the canvas shows it now: the live topology, with positions.
    pub fn doc(&self) -> Scenario {
        let sim = self.timeline.sim();
        let mut doc = sim.live_document_on(&self.base);
        for n in &mut doc.nodes {
            if let Some(p) = self.positions.get(&n.id) {
                n.position = Some(*p);
            }
        }
        // Scripted actions stay while every node they name is still there.
        doc.actions = self
            .base
            .actions
            .iter()
            .filter(|a| a.action.nodes().iter().all(|n| doc.node_index(n).is_some()))
            .cloned()
            .collect();
        // A guided tour stays with its document while everything it names is there.
        doc.tour = self.base.tour.clone().filter(|t| t.fits(&doc));
        doc
    }

    /// The run as a link or an embed carries it: the document the run *started* from, and the
    /// whole edit log. Replaying the log over that document reproduces the run event for event.
    ///
    /// Positions are presentation, not part of the run, so they are brought up to date: every
    /// node of the starting document, and every node a logged `add_node` or `configure` names,
    /// is placed where the canvas shows it now. The name, description and view are the current ones.
    pub fn shared_run(&self) -> (Scenario, Vec<Edit>) {
        let sim = self.timeline.sim();
        let mut doc = sim.scenario().clone();
        doc.name = self.base.name.clone();
        doc.description = self.base.description.clone();
        doc.seed = sim.seed();
        for n in &mut doc.nodes {
            if let Some(p) = self.positions.get(&n.id) {
                n.position = Some(*p);
            }
        }
        let mut edits = self.timeline.edits().to_vec();
        for e in &mut edits {
            if let Command::AddNode { spec } | Command::Configure { spec, .. } = &mut e.command {
                if let Some(p) = self.positions.get(&spec.id) {
                    spec.position = Some(*p);
                }
            }
        }
        (doc, edits)
    }

    /// Applies an edit to the document: `f` changes a copy, the core validates it, and the
    /// change reaches the simulation. On error nothing changes.
    pub fn edit(&mut self, f: impl FnOnce(&mut Scenario)) -> Result<(), EditError> {
        let old = self.doc();
        let mut new = old.clone();
        f(&mut new);
        if new == old {
            return Ok(());
        }
        self.apply_doc(&new)?;
        self.undo.push(old);
        if self.undo.len() > UNDO_DEPTH {
            self.undo.remove(0);
        }
        self.redo.clear();
        Ok(())
    }

    /// Undoes the last edit. Returns false if there was none.
    pub fn undo(&mut self) -> Result<bool, EditError> {
        let Some(prev) = self.undo.pop() else {
            return Ok(false);
        };
        let now = self.doc();
        if let Err(e) = self.apply_doc(&prev) {
            self.undo.push(prev);
            return Err(e);
        }
        self.redo.push(now);
        Ok(true)
    }

    /// Redoes the last undone edit. Returns false if there was none.
    pub fn redo(&mut self) -> Result<bool, EditError> {
        let Some(next) = self.redo.pop() else {
            return Ok(false);
        };
        let now = self.doc();
        if let Err(e) = self.apply_doc(&next) {
            self.redo.push(next);
            return Err(e);
        }
        self.undo.push(now);
        Ok(true)
    }

    /// Starts the run again from time zero with the document on the canvas, keeping the speed.
    pub fn restart(&mut self) -> Result<(), EditError> {
        let doc = self.doc();
        let speed = self.timeline.speed();
        self.timeline = Timeline::new(&doc).map_err(EditError::Invalid)?;
        self.timeline.set_speed(speed);
        self.revision += 1;
        Ok(())
    }

    /// Replaces the whole document (a loaded example) with a fresh run. The document it
    /// replaces is one undo step away: loading never loses work.
    pub fn load(&mut self, scenario: &Scenario) -> Result<(), EditError> {
        let speed = self.timeline.speed();
        let old = self.doc();
        self.timeline = Timeline::new(scenario).map_err(EditError::Invalid)?;
        self.timeline.set_speed(speed);
        self.base = scenario.clone();
        self.positions.clear();
        self.adopt_positions(scenario);
        if !old.nodes.is_empty() {
            self.undo.push(old);
        }
        self.redo.clear();
        self.revision += 1;
        Ok(())
    }

    fn adopt_positions(&mut self, doc: &Scenario) {
        for n in &doc.nodes {
            if let Some(p) = n.position {
                self.positions.insert(n.id.clone(), p);
            }
        }
    }

    fn apply_doc(&mut self, new: &Scenario) -> Result<(), EditError> {
        new.check_draft().map_err(EditError::Invalid)?;
        if self.timeline.at_start() {
            let speed = self.timeline.speed();
            self.timeline = Timeline::new(new).map_err(EditError::Invalid)?;
            self.timeline.set_speed(speed);
        } else {
            let sim = self.timeline.sim();
            let live = sim.live_document_on(&self.base);
            let commands = diff(&live, new, sim.topology());
            if !commands.is_empty() {
                self.timeline.apply_all(commands)?;
            }
        }
        // The new document says where each node is, including nowhere yet (the automatic
        // layout): undoing the first move of a node that had no position puts it back there.
        self.positions.clear();
        self.adopt_positions(new);
        self.base.actions = new.actions.clone();
        self.base.tour = new.tour.clone();
        self.base.name = new.name.clone();
        self.base.description = new.description.clone();
        self.revision += 1;
        Ok(())
    }

    // ----- edits -----

    /// Adds a node of a palette kind (and variant: an exchange's type) at `at`, with a fresh
    /// name. Returns the name.
    pub fn add_node(
        &mut self,
        kind: &str,
        variant: Option<&str>,
        at: Position,
    ) -> Result<String, EditError> {
        let item = crate::models::palette_item(kind, variant)
            .ok_or_else(|| EditError::Missing(format!("the palette has no kind {kind:?}")))?;
        let name = fresh_name(&self.doc(), item.stem);
        let mut spec = crate::models::default_spec(&name, item)
            .map_err(|e| EditError::Invalid(Diagnostics::one("config", e)))?;
        spec.position = Some(at);
        self.edit(|d| d.nodes.push(spec))?;
        Ok(name)
    }

    /// Moves a node (one undo step).
    pub fn move_node(&mut self, name: &str, to: Position) -> Result<(), EditError> {
        self.edit(|d| {
            if let Some(i) = d.node_index(name) {
                d.nodes[i].position = Some(to);
            }
        })
    }

    /// Why `from` → `to` cannot be connected, if it cannot: the core's own rule, in words.
    pub fn connection_refusal(&self, from: &str, to: &str) -> Option<String> {
        if from == to {
            return Some("a node cannot connect to itself here".into());
        }
        let mut doc = self.doc();
        let i = doc.edges.len();
        doc.edges.push(EdgeSpec::new(from, to));
        let Err(diags) = doc.check_draft() else {
            return None;
        };
        let prefix = format!("edges[{i}]");
        let mine: Vec<&str> = diags
            .0
            .iter()
            .filter(|d| d.path.starts_with(&prefix) && !d.path.contains("routing_key"))
            .filter(|d| !d.path.contains("arguments"))
            .map(|d| d.message.as_str())
            .collect();
        (!mine.is_empty()).then(|| mine.join("; "))
    }

    /// What a connection from `from` to `to` means, for the hint at the cursor: the core's
    /// own rule (`None` if either is unknown or the connection is refused).
    pub fn connection_meaning(&self, from: &str, to: &str) -> Option<&'static str> {
        let doc = self.doc();
        let kind = |n: &str| doc.node_index(n).map(|i| &doc.nodes[i].kind);
        switchboard_core::model::edge_rule(kind(from)?, kind(to)?)
            .ok()
            .map(switchboard_core::model::EdgeKind::meaning)
    }

    /// Whether connecting from `from` asks for a binding's routing key or arguments: the
    /// exchange type, for the dialog.
    pub fn binding_type(&self, from: &str) -> Option<&'static str> {
        let doc = self.doc();
        crate::models::binding_asks(&doc.nodes[doc.node_index(from)?].kind)
    }

    /// A routing key to offer when binding from the exchange `from`: the key the producers
    /// publishing to it use, else `fallback`.
    pub fn suggested_key(&self, from: &str, fallback: &str) -> String {
        let doc = self.doc();
        doc.edges
            .iter()
            .filter(|e| e.to == from)
            .find_map(|e| match &doc.nodes[doc.node_index(&e.from)?].kind {
                NodeKind::Producer(p) if !p.message.routing_key.is_empty() => {
                    Some(p.message.routing_key.clone())
                }
                _ => None,
            })
            .unwrap_or_else(|| fallback.to_owned())
    }

    /// Connects `from` to `to` (a binding gets `routing_key` and `arguments`).
    pub fn connect(&mut self, spec: EdgeSpec) -> Result<(), EditError> {
        if let Some(why) = self.connection_refusal(&spec.from, &spec.to) {
            return Err(EditError::Invalid(Diagnostics::one("edge", why)));
        }
        self.edit(|d| d.edges.push(spec))
    }

    /// Deletes a node and every edge at it.
    pub fn delete_node(&mut self, name: &str) -> Result<(), EditError> {
        if self.doc().node_index(name).is_none() {
            return Err(EditError::Missing(format!("there is no node {name:?}")));
        }
        self.edit(|d| {
            d.nodes.retain(|n| n.id != name);
            d.edges.retain(|e| e.from != name && e.to != name);
        })
    }

    /// The document index of a live edge of the simulation.
    pub fn doc_edge_index(&self, edge: EdgeId) -> Option<usize> {
        live_edge_ids(self.timeline.sim().topology())
            .iter()
            .position(|&e| e == edge)
    }

    /// The live edge at a document index.
    pub fn edge_id(&self, index: usize) -> Option<EdgeId> {
        live_edge_ids(self.timeline.sim().topology())
            .get(index)
            .copied()
    }

    /// Deletes an edge (unbind, cancel a consumer, stop publishing along it).
    pub fn delete_edge(&mut self, edge: EdgeId) -> Result<(), EditError> {
        let i = self
            .doc_edge_index(edge)
            .ok_or_else(|| EditError::Missing("that connection is gone".into()))?;
        self.edit(|d| {
            d.edges.remove(i);
        })
    }

    /// Replaces a node's spec (the inspector). A new `id` renames it, and its edges follow.
    pub fn set_node(&mut self, name: &str, spec: NodeSpec) -> Result<(), EditError> {
        let doc = self.doc();
        let i = doc
            .node_index(name)
            .ok_or_else(|| EditError::Missing(format!("there is no node {name:?}")))?;
        if spec.id != name && doc.node_index(&spec.id).is_some() {
            return Err(EditError::Invalid(Diagnostics::one(
                "id",
                format!("a node named {:?} already exists", spec.id),
            )));
        }
        let position = doc.nodes[i].position;
        self.edit(|d| {
            let new_name = spec.id.clone();
            d.nodes[i] = NodeSpec { position, ..spec };
            if new_name != name {
                for e in &mut d.edges {
                    if e.from == name {
                        e.from = new_name.clone();
                    }
                    if e.to == name {
                        e.to = new_name.clone();
                    }
                }
            }
        })
    }

    /// Replaces an edge's spec (the inspector).
    pub fn set_edge(&mut self, edge: EdgeId, spec: EdgeSpec) -> Result<(), EditError> {
        let i = self
            .doc_edge_index(edge)
            .ok_or_else(|| EditError::Missing("that connection is gone".into()))?;
        self.edit(|d| d.edges[i] = spec)
    }
}

/// The ids of the live edges, in the order [`Topology::to_scenario`] lists them.
pub fn live_edge_ids(t: &Topology) -> Vec<EdgeId> {
    t.edges
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.removed && !t.node(e.from).removed && !t.node(e.to).removed)
        .map(|(i, _)| EdgeId(i as u32))
        .collect()
}

/// `stem`, or `stem-2`, `stem-3`… whichever is free in `doc`.
pub fn fresh_name(doc: &Scenario, stem: &str) -> String {
    if doc.node_index(stem).is_none() {
        return stem.to_owned();
    }
    (2..)
        .map(|i| format!("{stem}-{i}"))
        .find(|n| doc.node_index(n).is_none())
        .expect("some suffix is free")
}

/// The live commands that turn the topology `live` into `new`. Nodes are matched by name;
/// edges by their ends and fields. A changed node is configured in place where the core's
/// rule allows (`model::reconfigure_rule`), and otherwise deleted and declared again with its
/// edges (a queue's or an exchange's settings, a consumer's `auto_ack` or `x-priority` while it
/// consumes).
pub fn diff(live: &Scenario, new: &Scenario, topo: &Topology) -> Vec<Command> {
    let spec_of = |s: &Scenario, name: &str| s.node_index(name).map(|i| s.nodes[i].clone());
    let mut recreate = Vec::new();
    let mut configure = Vec::new();
    for n in &live.nodes {
        let Some(m) = spec_of(new, &n.id) else {
            continue;
        };
        if m.kind == n.kind {
            continue;
        }
        // The core's rule: in place, or deleted and declared again (a queue's arguments, a
        // consumer's `auto_ack` while it consumes).
        let bound = topo
            .node_id(&n.id)
            .is_some_and(|id| !topo.node(id).inc.is_empty());
        use switchboard_core::model::Reconfigure;
        // A change the real system refuses (a topic's partitions lowered) goes as a configure,
        // which the core refuses with the reason: deleting the node would lose what it holds.
        let in_place = matches!(
            switchboard_core::model::reconfigure_rule(&n.id, &n.kind, &m.kind, bound),
            Ok(()) | Err(Reconfigure::Refused(_))
        );
        if in_place {
            configure.push(m);
        } else {
            recreate.push(n.id.clone());
        }
    }
    let gone = |name: &str| new.node_index(name).is_none() || recreate.iter().any(|r| r == name);
    let live_ids = live_edge_ids(topo);
    // Edges of `new` not yet matched by a surviving live edge.
    let mut wanted: Vec<Option<&EdgeSpec>> = new.edges.iter().map(Some).collect();
    let mut commands = Vec::new();
    for (i, e) in live.edges.iter().enumerate() {
        let survives = !gone(&e.from) && !gone(&e.to);
        let matched = survives
            && wanted
                .iter_mut()
                .find(|w| w.is_some_and(|w| same_edge(w, e)))
                .map(|w| *w = None)
                .is_some();
        if !matched {
            commands.push(Command::RemoveEdge { edge: live_ids[i] });
        }
    }
    for n in &live.nodes {
        if gone(&n.id) {
            if let Some(node) = topo.node_id(&n.id) {
                commands.push(Command::RemoveNode { node });
            }
        }
    }
    for m in &new.nodes {
        if live.node_index(&m.id).is_none() || recreate.contains(&m.id) {
            commands.push(Command::AddNode { spec: m.clone() });
        }
    }
    for m in configure {
        if let Some(node) = topo.node_id(&m.id) {
            commands.push(Command::Configure { node, spec: m });
        }
    }
    for e in wanted.into_iter().flatten() {
        commands.push(Command::AddEdge { spec: e.clone() });
    }
    // Policies by name: cleared, then set (new or changed), as `rabbitmqctl` would.
    for (operator, was, now) in [
        (false, &live.policies, &new.policies),
        (true, &live.operator_policies, &new.operator_policies),
    ] {
        for p in was.iter().filter(|p| now.iter().all(|q| q.name != p.name)) {
            commands.push(Command::ClearPolicy {
                name: p.name.clone(),
                operator,
            });
        }
        for p in now.iter().filter(|p| !was.contains(p)) {
            commands.push(Command::SetPolicy {
                policy: p.clone(),
                operator,
            });
        }
    }
    commands
}

/// Edges are the same if their ends and every field agree (a missing latency is the default).
fn same_edge(a: &EdgeSpec, b: &EdgeSpec) -> bool {
    a.from == b.from
        && a.to == b.to
        && a.routing_key == b.routing_key
        && a.arguments == b.arguments
        // New policies on a call edge make a new edge (a fresh breaker, an empty bulkhead).
        && a.resilience == b.resilience
        && (a.latency == b.latency
            || a.latency.clone().unwrap_or_else(|| b.latency_or_default())
                == b.latency.clone().unwrap_or_else(|| a.latency_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::amqp::AmqpKind;
    use switchboard_core::SimTime;

    fn empty() -> Scenario {
        Scenario::from_json(r#"{"version":1,"name":"new","seed":7,"nodes":[],"edges":[]}"#).unwrap()
    }

    fn at(x: f64, y: f64) -> Position {
        Position { x, y }
    }

    /// producer → direct exchange → queue → consumer, built as a user would.
    fn built() -> Session {
        let mut s = Session::new(&empty()).unwrap();
        let p = s.add_node("producer", None, at(0.0, 0.0)).unwrap();
        let x = s
            .add_node("exchange", Some("direct"), at(200.0, 0.0))
            .unwrap();
        let q = s.add_node("queue", None, at(400.0, 0.0)).unwrap();
        let c = s.add_node("consumer", None, at(600.0, 0.0)).unwrap();
        s.connect(EdgeSpec::new(&p, &x)).unwrap();
        let mut b = EdgeSpec::new(&x, &q);
        b.routing_key = s.suggested_key(&x, &q);
        s.connect(b).unwrap();
        s.connect(EdgeSpec::new(&q, &c)).unwrap();
        s
    }

    #[test]
    fn a_topology_built_from_nothing_delivers_messages() {
        let mut s = built();
        assert_eq!(s.doc().nodes.len(), 4);
        assert_eq!(
            s.doc().edges[1].routing_key,
            "task",
            "the producer's key is suggested"
        );
        let t = s.timeline_mut();
        t.play();
        for _ in 0..200 {
            t.tick(16.0).unwrap();
        }
        let acked: u64 = t.derived().counters.acked.values().sum();
        assert!(acked > 0, "messages reached the consumer and were acked");
        t.sim().check_conservation().unwrap();
    }

    #[test]
    fn invalid_connections_are_refused_with_the_cores_reason() {
        let s = built();
        let why = s.connection_refusal("queue", "producer").unwrap();
        assert!(why.contains("producer receives nothing"), "{why}");
        let why = s.connection_refusal("direct-x", "consumer").unwrap();
        assert!(why.contains("exchange routes only"), "{why}");
        assert!(s.connection_refusal("producer", "queue").is_none());
        assert_eq!(
            s.connection_meaning("queue", "consumer"),
            Some("consumes from")
        );
    }

    #[test]
    fn undo_and_redo_walk_the_history() {
        let mut s = Session::new(&empty()).unwrap();
        s.add_node("queue", None, at(0.0, 0.0)).unwrap();
        s.add_node("queue", None, at(0.0, 100.0)).unwrap();
        assert_eq!(s.doc().nodes.len(), 2);
        assert_eq!(s.doc().nodes[1].id, "queue-2");
        assert!(s.undo().unwrap());
        assert_eq!(s.doc().nodes.len(), 1);
        assert!(s.redo().unwrap());
        assert_eq!(s.doc().nodes.len(), 2);
        s.move_node("queue", at(50.0, 50.0)).unwrap();
        assert!(s.undo().unwrap());
        assert_eq!(s.position("queue"), Some(at(0.0, 0.0)), "moves undo too");
        assert!(s.undo().unwrap() && s.undo().unwrap());
        assert!(!s.undo().unwrap(), "nothing left");
        assert!(s.doc().nodes.is_empty());
    }

    #[test]
    fn edits_while_running_become_live_commands() {
        let mut s = built();
        s.timeline_mut().play();
        for _ in 0..60 {
            s.timeline_mut().tick(16.0).unwrap();
        }
        let c2 = s.add_node("consumer", None, at(600.0, 150.0)).unwrap();
        s.connect(EdgeSpec::new("queue", &c2)).unwrap();
        let log = s.timeline().edits();
        assert!(matches!(log[0].command, Command::AddNode { .. }));
        assert!(matches!(log[1].command, Command::AddEdge { .. }));
        assert!(log[0].at > SimTime::ZERO);
        // Undo while running removes the edge live.
        s.undo().unwrap();
        assert!(matches!(
            s.timeline().edits().last().unwrap().command,
            Command::RemoveEdge { .. }
        ));
        s.timeline().sim().check_conservation().unwrap();
    }

    #[test]
    fn a_changed_queue_is_declared_again_with_its_edges() {
        let mut s = built();
        s.timeline_mut().play();
        for _ in 0..30 {
            s.timeline_mut().tick(16.0).unwrap();
        }
        let doc = s.doc();
        let mut q = doc.nodes[doc.node_index("queue").unwrap()].clone();
        if let NodeKind::Amqp(AmqpKind::Queue(c)) = &mut q.kind {
            c.arguments.message_ttl = Some(1000);
        }
        s.set_node("queue", q).unwrap();
        let kinds: Vec<&str> = s
            .timeline()
            .edits()
            .iter()
            .map(|e| match e.command {
                Command::RemoveEdge { .. } => "remove_edge",
                Command::RemoveNode { .. } => "remove_node",
                Command::AddNode { .. } => "add_node",
                Command::AddEdge { .. } => "add_edge",
                _ => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "remove_edge",
                "remove_edge",
                "remove_node",
                "add_node",
                "add_edge",
                "add_edge"
            ]
        );
        assert_eq!(s.doc().edges.len(), 3, "the edges came back");
    }

    #[test]
    fn a_changed_consumer_is_configured_in_place() {
        let mut s = built();
        s.timeline_mut().play();
        s.timeline_mut().tick(100.0).unwrap();
        let doc = s.doc();
        let mut c = doc.nodes[doc.node_index("consumer").unwrap()].clone();
        if let NodeKind::Amqp(AmqpKind::Consumer(cc)) = &mut c.kind {
            cc.prefetch_count = 1;
        }
        s.set_node("consumer", c).unwrap();
        assert!(matches!(
            s.timeline().edits().last().unwrap().command,
            Command::Configure { .. }
        ));
    }

    #[test]
    fn policies_edited_while_playing_are_set_and_cleared_live() {
        let mut s = built();
        s.timeline_mut().play();
        s.timeline_mut().tick(100.0).unwrap();
        let policy: switchboard_core::amqp::policy::Policy = serde_json::from_value(
            serde_json::json!({"name": "cap", "pattern": "^queue$", "definition": {"max-length": 1}}),
        )
        .unwrap();
        s.edit(|d| d.policies.push(policy.clone())).unwrap();
        assert!(matches!(
            &s.timeline().edits().last().unwrap().command,
            Command::SetPolicy { policy: p, operator: false } if p.name == "cap"
        ));
        assert_eq!(
            s.doc().policies,
            [policy],
            "the document shows the policy in force"
        );
        let q = s.timeline().sim().topology().node_id("queue").unwrap();
        let applied = s.timeline().sim().effective_settings(q).unwrap().0;
        assert_eq!(applied.policy.as_deref(), Some("cap"));
        s.edit(|d| d.policies.clear()).unwrap();
        assert!(matches!(
            &s.timeline().edits().last().unwrap().command,
            Command::ClearPolicy { name, operator: false } if name == "cap"
        ));
        assert!(s.doc().policies.is_empty());
    }

    #[test]
    fn renaming_moves_the_edges_along() {
        let mut s = built();
        let doc = s.doc();
        let mut q = doc.nodes[doc.node_index("queue").unwrap()].clone();
        q.id = "orders".into();
        s.set_node("queue", q).unwrap();
        let doc = s.doc();
        assert!(doc.node_index("orders").is_some());
        assert!(doc.edges.iter().any(|e| e.to == "orders"));
        assert!(doc.edges.iter().any(|e| e.from == "orders"));
    }

    #[test]
    fn loading_an_example_can_be_undone() {
        let mut s = built();
        let mine = s.doc();
        let other = Scenario::from_json(include_str!("../../docs/examples/hello.json")).unwrap();
        s.load(&other).unwrap();
        assert_eq!(s.doc().name, other.name);
        assert!(s.undo().unwrap());
        assert_eq!(s.doc().nodes, mine.nodes, "the work is back");
        assert_eq!(s.doc().edges, mine.edges);
        assert_eq!(s.doc().name, mine.name);
    }

    #[test]
    fn undoing_the_first_move_of_an_unplaced_node_puts_it_back() {
        // relay-chain.json places none of its nodes: the automatic layout does.
        let doc =
            Scenario::from_json(include_str!("../../docs/examples/relay-chain.json")).unwrap();
        assert!(doc.nodes.iter().all(|n| n.position.is_none()));
        let mut s = Session::new(&doc).unwrap();
        let name = doc.nodes[0].id.clone();
        s.move_node(&name, at(500.0, 500.0)).unwrap();
        assert_eq!(s.position(&name), Some(at(500.0, 500.0)));
        assert!(s.undo().unwrap());
        assert_eq!(s.position(&name), None, "back to the automatic layout");
        assert_eq!(s.doc().nodes[0].position, None);
        assert!(s.redo().unwrap());
        assert_eq!(s.position(&name), Some(at(500.0, 500.0)));
    }

    #[test]
    fn saved_work_kept_beneath_is_the_next_undo() {
        let s = built();
        let mine = s.doc();
        let (history, _) = s.history();
        let history = history.to_vec();
        let other = Scenario::from_json(include_str!("../../docs/examples/hello.json")).unwrap();
        let mut opened = Session::new(&other).unwrap();
        opened.keep_beneath(&mine, history.clone());
        assert!(opened.undo().unwrap());
        assert_eq!(
            opened.doc().nodes,
            mine.nodes,
            "the saved work is one undo away"
        );
        assert!(opened.undo().unwrap());
        assert_eq!(
            opened.doc().nodes,
            history.last().unwrap().nodes,
            "and its history below"
        );
        assert!(opened.redo().unwrap() && opened.redo().unwrap());
        assert_eq!(opened.doc().name, other.name);
    }

    #[test]
    fn a_shared_run_starts_from_the_document_the_run_started_from() {
        let mut s = built();
        let start = s.doc();
        s.timeline_mut().play();
        for _ in 0..20 {
            s.timeline_mut().tick(16.0).unwrap();
        }
        let doc = s.doc();
        let mut p = doc.nodes[doc.node_index("producer").unwrap()].clone();
        if let NodeKind::Producer(c) = &mut p.kind {
            c.rate_per_s = 40.0;
        }
        s.set_node("producer", p).unwrap();
        s.move_node("queue", at(410.0, 90.0)).unwrap();
        let (shared, edits) = s.shared_run();
        assert_eq!(edits, s.timeline().edits(), "the whole edit log");
        let i = shared.node_index("producer").unwrap();
        assert_eq!(
            shared.nodes[i].kind, start.nodes[i].kind,
            "not the edited producer"
        );
        let q = shared.node_index("queue").unwrap();
        assert_eq!(
            shared.nodes[q].position,
            Some(at(410.0, 90.0)),
            "nodes where they are now"
        );
    }

    #[test]
    fn deleting_a_node_takes_its_edges() {
        let mut s = built();
        s.delete_node("direct-x").unwrap();
        let doc = s.doc();
        assert_eq!(doc.nodes.len(), 3);
        assert_eq!(doc.edges.len(), 1, "only queue → consumer is left");
        assert!(s.delete_node("direct-x").is_err());
    }

    #[test]
    fn invalid_inspector_edits_are_refused_and_change_nothing() {
        let mut s = built();
        let before = s.doc();
        let mut q = before.nodes[before.node_index("queue").unwrap()].clone();
        if let NodeKind::Amqp(AmqpKind::Queue(c)) = &mut q.kind {
            c.arguments.delivery_limit = Some(3); // quorum only
        }
        let err = s.set_node("queue", q).unwrap_err();
        assert!(err.to_string().contains("x-delivery-limit"), "{err}");
        assert_eq!(s.doc(), before);
        assert!(!s.can_redo());
    }
}
