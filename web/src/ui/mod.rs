//! The page: one component ([`app::App`]) that owns the session and the UI state, and plain
//! render functions for each region. Handlers change the session or the UI state and then ask
//! for a re-render; nothing else holds state, so there is one place to look.

pub mod app;
pub mod canvas;
pub mod drawers;
pub mod embedded;
pub mod examples;
pub mod files;
pub mod inspector;
pub mod open;
pub mod palette;
pub mod picture;
pub mod runbar;
pub mod stage;
pub mod storage;

use crate::editor::Session;
use crate::effects::Effects;
use crate::view::{Point, Viewport};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use switchboard_core::scenario::{Scenario, View};
use switchboard_core::{EdgeId, MessageId};
use yew::Callback;

/// What is selected on the canvas.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Selection {
    /// Nothing.
    #[default]
    None,
    /// A node, by name.
    Node(String),
    /// An edge, by its live id.
    Edge(EdgeId),
}

/// A gesture in progress on the stage.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Drag {
    /// None.
    #[default]
    Idle,
    /// A palette item being dragged onto the canvas.
    Palette {
        /// The node kind.
        kind: &'static str,
        /// The exchange type, for exchanges.
        exchange_type: Option<&'static str>,
        /// The pointer, in client coordinates.
        client: Point,
    },
    /// A node being moved.
    Move {
        /// The node.
        name: String,
        /// Pointer offset from the node centre, world units.
        grab: Point,
        /// The node centre now, world units.
        at: Point,
        /// Moved far enough to count as a drag rather than a click.
        moved: bool,
    },
    /// The background being dragged.
    Pan {
        /// The last pointer position, client coordinates.
        last: Point,
        /// Moved far enough to count as a drag rather than a click.
        moved: bool,
    },
    /// A connection being drawn.
    Connect {
        /// From this node.
        from: String,
        /// The pointer, world units.
        at: Point,
        /// The node under the pointer, and why it cannot be connected, if it cannot.
        over: Option<(String, Option<String>)>,
    },
}

/// A binding being asked for: the routing key or the headers.
#[derive(Clone, Debug, PartialEq)]
pub struct BindDraft {
    /// The exchange.
    pub from: String,
    /// The queue or exchange.
    pub to: String,
    /// `direct`, `topic` or `headers`.
    pub exchange_type: &'static str,
    /// The routing key typed.
    pub key: String,
    /// The headers arguments typed (`x-match=all, type=report`).
    pub args: String,
    /// Why the last attempt was refused.
    pub error: Option<String>,
}

/// The bottom drawers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Drawer {
    /// The event log.
    #[default]
    Events,
    /// The selected message.
    Message,
    /// Charts.
    Metrics,
    /// Dead-letter queues.
    DeadLetters,
}

/// Who asked for the long work under way (a seek done a slice per frame), so its end, its
/// progress and its cancellation are reported to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkOwner {
    /// The editor's scrubber.
    Scrub,
    /// The page embedding the player: `seek`, `load`, or the `start` option.
    Host(&'static str),
}

/// A message to the user: an edit refused, a fault applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// An error rather than information.
    pub error: bool,
    /// Wall-clock ms when it appeared.
    pub at: f64,
}

/// Where a node can connect to, as last computed (each candidate is a validation).
#[derive(Debug, Default)]
pub struct ConnectTargets {
    /// From this node.
    pub from: String,
    /// For this topology version.
    pub version: crate::editor::TopologyVersion,
    /// `(node, what the connection means)`.
    pub targets: Vec<(String, &'static str)>,
}

/// The event log's rows as last formatted.
#[derive(Debug, Default)]
pub struct LogView {
    /// Wall-clock ms when formatted.
    pub at_ms: f64,
    /// The filter they match.
    pub filter: String,
    /// Events seen then.
    pub seen: u64,
    /// The rows.
    pub rows: Vec<drawers::LogRow>,
}

/// Everything the page shows besides the session.
#[derive(Debug, Default)]
pub struct UiState {
    /// The example on the canvas (`""`: the empty canvas or the user's own work).
    pub example: String,
    /// The selected node or edge.
    pub selection: Selection,
    /// The message open in the message inspector.
    pub message: Option<MessageId>,
    /// The view; `None` frames the topology on the next frame (see `wanted_view`).
    pub viewport: Option<Viewport>,
    /// The document's saved view, applied when the viewport is next framed; `None` fits.
    pub wanted_view: Option<View>,
    /// The viewport is the automatic fit (not panned or zoomed since): it refits when the
    /// stage changes size.
    pub fitted: bool,
    /// The stage's size in CSS pixels and its client offset.
    pub stage: (f64, f64, f64, f64),
    /// The gesture in progress.
    pub drag: Drag,
    /// A binding being asked for.
    pub bind: Option<BindDraft>,
    /// The binding dialog's input should take the focus on the next frame.
    pub focus_bind: bool,
    /// The latest notice.
    pub notice: Option<Notice>,
    /// The open drawer.
    pub drawer: Drawer,
    /// Whether the drawer area is open.
    pub drawer_open: bool,
    /// The event log's filter text.
    pub log_filter: String,
    /// The inspector's connection targets for a node, cached on the topology's version.
    pub connect_targets: Option<ConnectTargets>,
    /// The event log's formatted rows, reused between refreshes.
    pub log_view: Option<LogView>,
    /// Inspector fields whose text was refused: field key → (text, why).
    pub field_errors: BTreeMap<String, (String, String)>,
    /// Inspector fields being typed in: field key → text (not yet committed).
    pub field_drafts: BTreeMap<String, String>,
    /// Live visual effects.
    pub effects: Effects,
    /// Events already turned into effects (by ordinal).
    pub effects_seen: u64,
    /// Dead-lettered count the user has seen (the badge shows more than this as new).
    pub dead_seen: u64,
    /// Text at the cursor (a refused connection, a dropped message's reason).
    pub tip: Option<(Point, String)>,
    /// Dark theme chosen (`None`: follow the system).
    pub dark: Option<bool>,
    /// Reduced motion (from the system).
    pub reduced_motion: bool,
    /// Saved work that could not be restored.
    pub recovery: Option<files::Recovery>,
    /// Where restoring saved work stands; autosave writes only once it is settled.
    pub save: files::SaveState,
    /// Documents that opening something else replaced, newest first.
    pub recent: Vec<crate::persist::Recent>,
    /// A recording of the view in progress.
    pub recording: Option<picture::Recording>,
    /// The share dialog's link, while it is open.
    pub share: Option<String>,
    /// The embed dialog is open.
    pub embed_dialog: bool,
    /// The options the embed dialog writes into its snippet.
    pub embed_draft: crate::embed::EmbedOptions,
    /// Embed mode's options, when the page is an embedded player.
    pub embed: Option<crate::embed::EmbedOptions>,
    /// Who asked for the long work under way, if any.
    pub work_owner: Option<WorkOwner>,
    /// Wall-clock ms when progress was last posted to the host page.
    pub work_posted_ms: f64,
}

/// Shared handles every region's render function gets.
#[derive(Clone)]
pub struct Ctx {
    /// The session: document, run, history.
    pub session: Rc<RefCell<Session>>,
    /// The UI state.
    pub ui: Rc<RefCell<UiState>>,
    /// Asks for a re-render. Call it after the borrows above have ended.
    pub refresh: Callback<()>,
}

impl UiState {
    /// A new document is on the canvas (an example, a file, a link, recent or saved work).
    /// Everything that belonged to the previous one is cleared here, whatever opened it, so
    /// the ways of opening cannot drift apart. `example` names the built-in example (`""`:
    /// none); `view` is the document's saved view, `screen_view` a link-format-1 view.
    pub fn opened(&mut self, example: &str, view: Option<View>, screen_view: Option<Viewport>) {
        self.example = example.to_owned();
        self.selection = Selection::None;
        self.message = None;
        self.drag = Drag::Idle;
        self.bind = None;
        self.focus_bind = false;
        self.connect_targets = None;
        self.log_view = None;
        self.field_errors.clear();
        self.field_drafts.clear();
        self.effects.clear();
        self.effects_seen = 0;
        self.dead_seen = 0;
        self.tip = None;
        self.share = None;
        self.reframe(view);
        self.viewport = screen_view;
    }

    /// Frames a newly opened document: at its saved `view` if it has one, else fitted.
    pub fn reframe(&mut self, view: Option<View>) {
        self.viewport = None;
        self.wanted_view = view;
    }

    /// The current view as a document's `view`, once the stage has a size.
    pub fn saved_view(&self) -> Option<View> {
        let (w, h) = (self.stage.0, self.stage.1);
        self.viewport.filter(|_| w > 0.0).map(|v| v.saved(w, h))
    }
}

impl Ctx {
    /// The document on the canvas with the current view, as files, links and autosaves
    /// write it.
    pub fn doc_with_view(&self) -> Scenario {
        let mut doc = self.session.borrow().doc();
        doc.view = self.ui.borrow().saved_view();
        doc
    }

    /// True in a read-only embedded player: the topology can be watched, not changed.
    pub fn read_only(&self) -> bool {
        self.ui.borrow().embed.as_ref().is_some_and(|o| !o.editable)
    }

    /// Shows a notice.
    pub fn notify(&self, text: impl Into<String>, error: bool) {
        self.ui.borrow_mut().notice = Some(Notice {
            text: text.into(),
            error,
            at: now_ms(),
        });
    }
}

/// The first `n` problems of `d`, each with its path, for a notice.
pub fn diagnostics_text(d: &switchboard_core::Diagnostics, n: usize) -> String {
    d.0.iter()
        .take(n)
        .map(|x| format!("{}: {}", x.path, x.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Wall-clock milliseconds (performance.now), or 0 outside a browser.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}
