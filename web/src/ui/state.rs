//! The UI state and its one reducer: every change to what the page shows (apart from the
//! session, which the editor owns) is a [`UiAction`] given to [`UiState::reduce`]. Opening a
//! document, undoing, selecting, a gesture, a frame: each is one action with one meaning, so
//! the ways of doing the same thing cannot drift apart (opening an example, a file, a link or
//! saved work clears exactly the same things, [`UiAction::Opened`]). No DOM here: native tests
//! drive the reducer.

use crate::effects::{Effect, Effects};
use crate::view::{fit, Bounds, Point, Viewport};
use std::collections::BTreeMap;
use switchboard_core::scenario::View;
use switchboard_core::{EdgeId, MessageId};

/// The largest zoom a fit chooses: small topologies are not blown up.
pub const FIT_MAX_SCALE: f64 = 1.25;
/// How long a notice stays, in wall-clock ms.
pub const NOTICE_MS: f64 = 6_000.0;
/// The live region says something at most this often (wall-clock ms); what comes between is
/// said together.
pub const ANNOUNCE_EVERY_MS: f64 = 1_500.0;
/// At most this many things are said at once (the newest); older ones are counted.
pub const ANNOUNCE_AT_ONCE: usize = 3;
/// A node or an edge stays this far (screen px) inside the stage when it takes the focus.
pub const REVEAL_MARGIN: f64 = 24.0;

/// Where the keyboard focus should go after the next render (an action moved it, or removed
/// what had it).
#[derive(Clone, Debug, PartialEq)]
pub enum Focus {
    /// A node on the canvas, by name.
    Node(String),
    /// An edge on the canvas.
    Edge(EdgeId),
    /// The canvas itself.
    Stage,
    /// The inspector's heading (what is selected), before its controls.
    Inspector,
    /// The element a CSS selector finds (a button that opened a dialog, say).
    Css(String),
}

impl Focus {
    /// Where the focus goes for a selection: the selected node or edge, else the canvas.
    pub fn of(s: &Selection) -> Focus {
        match s {
            Selection::Node(n) => Focus::Node(n.clone()),
            Selection::Edge(e) => Focus::Edge(*e),
            Selection::None => Focus::Stage,
        }
    }
}

/// The one polite live region: what the user did and what happened, said at most every
/// [`ANNOUNCE_EVERY_MS`], with what came in between said together.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Announcer {
    /// Waiting to be said.
    pub pending: Vec<String>,
    /// In the live region now.
    pub said: String,
    /// Wall-clock ms when it was said.
    pub at: f64,
    /// How many times something was said (a new text, or the same one again).
    pub count: u64,
}

impl Announcer {
    /// Says what is pending, if the last thing was said long enough ago. Returns true if the
    /// live region changed.
    pub fn flush(&mut self, now: f64) -> bool {
        if self.pending.is_empty() || (self.count > 0 && now - self.at < ANNOUNCE_EVERY_MS) {
            return false;
        }
        // The newest are said (what the user just did matters most); older ones are counted.
        let n = self.pending.len();
        let skipped = n.saturating_sub(ANNOUNCE_AT_ONCE);
        let mut text = self.pending[skipped..].join(". ");
        if skipped > 0 {
            text = format!("{skipped} earlier not said. {text}");
        }
        self.pending.clear();
        // The same words twice are still said: a trailing space makes them new to the page.
        if text == self.said.trim_end() && !self.said.ends_with(' ') {
            text.push(' ');
        }
        self.said = text;
        self.at = now;
        self.count += 1;
        true
    }
}

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
    /// The topology and the run as text: tables a screen reader can read, and a summary
    /// anyone can.
    Text,
    /// RabbitMQ policies and operator policies.
    Policies,
    /// One chain's trace as a waterfall of spans.
    Trace,
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
    pub rows: Vec<super::drawers::LogRow>,
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
    /// The trace the Trace drawer shows (`None`: the newest chain's).
    pub trace: Option<super::trace_view::TracePick>,
    /// The view; `None` until the first frame with a stage frames the topology (see
    /// `wanted_view`).
    pub viewport: Option<Viewport>,
    /// A framing is asked for (a document opened, Fit): the next frame with a stage frames the
    /// topology anew, and the view shown until then is the one before (never a default view
    /// for a frame in between).
    pub reframe: bool,
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
    pub recovery: Option<super::files::Recovery>,
    /// Where restoring saved work stands; autosave writes only once it is settled.
    pub save: super::files::SaveState,
    /// Documents that opening something else replaced, newest first.
    pub recent: Vec<crate::persist::Recent>,
    /// A recording of the view in progress.
    pub recording: Option<super::picture::Recording>,
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
    /// Where the focus goes after the next render.
    pub focus: Option<Focus>,
    /// The live region.
    pub announcer: Announcer,
    /// The File menu is open.
    pub menu_open: bool,
    /// The guided tour being taken, if any.
    pub tour: Option<super::tour::TourState>,
    /// The start screen's stories were put away ("Start from scratch"): the empty canvas shows
    /// how to build instead.
    pub start_hidden: bool,
}

/// Derivations the render functions memoize between refreshes. Not state: dropping them
/// changes nothing but the time the next render takes.
#[derive(Debug, Default)]
pub struct Caches {
    /// The inspector's connection targets for a node, cached on the topology's version.
    pub connect_targets: Option<ConnectTargets>,
    /// The event log's formatted rows, reused between refreshes.
    pub log_view: Option<LogView>,
}

/// One change to the UI state. See [`UiState::reduce`].
pub enum UiAction {
    // ----- documents -----
    /// A new document is on the canvas (an example, a file, a link, recent or saved work):
    /// everything that belonged to the previous one is cleared. `example` names the built-in
    /// example (`""`: none); `view` is the document's saved view, `screen_view` a
    /// link-format-1 view.
    Opened {
        /// The example's name, or `""`.
        example: String,
        /// The document's own view.
        view: Option<View>,
        /// A link-format-1 view in screen pixels.
        screen_view: Option<Viewport>,
    },
    /// Undo or redo swapped the document: what was selected or being typed may be gone.
    HistoryMoved,
    /// The run started again from time zero.
    Restarted,
    // ----- selection and inspection -----
    /// Select a node or an edge (or nothing). A different selection drops the inspector's
    /// drafts and errors.
    Select(Selection),
    /// A node was renamed in the inspector: the selection follows it.
    Renamed(String),
    /// Open a message in the message inspector drawer.
    OpenMessage(MessageId),
    /// Show a message in the message drawer without opening it (a click in the log).
    ShowMessage(MessageId),
    /// Open the Trace drawer on this trace.
    PickTrace(super::trace_view::TracePick),
    /// Escape: no selection, no gesture, no dialog, no tip.
    Escape,
    /// Text typed into an inspector field, not yet committed.
    FieldDraft {
        /// The field.
        key: String,
        /// The text.
        text: String,
    },
    /// An inspector field was committed: accepted, or refused with the text and why.
    FieldSettled {
        /// The field.
        key: String,
        /// `Err((text, why))` if refused.
        result: Result<(), (String, String)>,
    },
    // ----- gestures and the view -----
    /// A gesture starts, moves on, or ends (`Drag::Idle`).
    Drag(Drag),
    /// Text at the cursor (a refused connection, a dropped message's reason), or none.
    Tip(Option<(Point, String)>),
    /// The view pans by screen pixels.
    Pan {
        /// Horizontally.
        dx: f64,
        /// Vertically.
        dy: f64,
    },
    /// The view zooms by `factor` about a screen point.
    Zoom {
        /// Scale multiplier.
        factor: f64,
        /// The fixed point, stage-local screen pixels.
        at: Point,
    },
    /// Fit the topology in view (F, the Fit button).
    Fit,
    /// A binding's key or arguments are asked for (connecting from an exchange).
    AskBinding(BindDraft),
    /// The binding dialog's fields change.
    EditBinding {
        /// The routing key typed, if it changed.
        key: Option<String>,
        /// The arguments typed, if they changed.
        args: Option<String>,
    },
    /// The binding was refused, saying why.
    BindingRefused(String),
    /// The binding dialog closes (made, or cancelled).
    CloseBinding,
    /// The binding dialog's input has the focus now.
    BindingFocused,
    // ----- drawers, dialogs, notices -----
    /// Show a drawer (opening the drawer area); clicking the open one's tab closes the area.
    ToggleDrawer(Drawer),
    /// Open the drawer area on this drawer.
    ShowDrawer(Drawer),
    /// The dead letters counted so far (`seen`): with the dead-letter drawer open, all are
    /// seen; after a seek back or a restart the count can go down.
    DeadLettersCounted(u64),
    /// The event log's filter.
    LogFilter(String),
    /// The share dialog opens with this link, or closes.
    Share(Option<String>),
    /// The embed dialog opens or closes.
    EmbedDialog(bool),
    /// The embed dialog's options change.
    EmbedDraft(crate::embed::EmbedOptions),
    /// Show a notice.
    Notify(Notice),
    /// No notice.
    ClearNotice,
    /// The theme: dark, light, or the system's (`None`).
    Theme(Option<bool>),
    // ----- saved work -----
    /// Where restoring saved work stands.
    Save(super::files::SaveState),
    /// The recent documents.
    Recent(Vec<crate::persist::Recent>),
    /// Saved work that could not be restored: shown, and kept (or held) as it says.
    Recovery(super::files::Recovery),
    /// The unrestorable saved work was downloaded: it is the user's now, and autosave may go
    /// on if it was held.
    RecoveryDownloaded,
    /// The unrestorable saved work was dismissed: the banner goes, and autosave may go on.
    RecoveryDismissed,
    /// A document that opening something else replaced joins the recent documents, at this
    /// wall-clock time (ms since the epoch).
    Remembered(switchboard_core::Scenario, f64),
    /// A recording of the view starts, or ends.
    Recording(Option<super::picture::Recording>),
    // ----- long work -----
    /// Who asked for the long work under way (or nobody, once it is done).
    Work(Option<WorkOwner>),
    /// Progress was posted to the host page at this wall-clock time.
    WorkPosted(f64),
    // ----- focus and words -----
    /// Move the focus there after the next render.
    FocusOn(Focus),
    /// The focus request was carried out (or cannot be).
    Focused,
    /// Say this through the live region (soon, with whatever else is said then).
    Announce(String),
    /// Open or close the File menu.
    Menu(bool),
    /// The system's reduced-motion preference changed.
    ReducedMotion(bool),
    /// A guided tour starts, moves on, or ends (`None`).
    Tour(Option<super::tour::TourState>),
    /// The start screen's stories are shown on an empty canvas (`true`) or put away.
    StartScreen(bool),
    /// Frames the view on a document's view (`None`: fits the topology), as opening does.
    Reframe(Option<View>),
    /// A node or an edge took the focus at this world point: pan just enough to show it
    /// ([`REVEAL_MARGIN`] inside the stage, `half` its half size in world units).
    Reveal {
        /// Its centre, world units.
        at: Point,
        /// Its half width and half height, world units.
        half: (f64, f64),
    },
    // ----- frames -----
    /// One animation frame's view maintenance (see [`Frame`]).
    Frame(Frame),
}

/// What one animation frame found, for [`UiAction::Frame`]: the view is refitted or framed as
/// the stage and the document ask, new events become effects, old effects and notices end.
pub struct Frame {
    /// Wall-clock ms.
    pub now: f64,
    /// The stage's size in CSS pixels and its client offset.
    pub stage: (f64, f64, f64, f64),
    /// The box around the live nodes (to fit), and whether there are none.
    pub bounds: Bounds,
    /// No live node.
    pub empty: bool,
    /// Events seen so far by the run.
    pub events_seen: u64,
    /// Effects of the newest events, to add.
    pub effects: Vec<Effect>,
    /// The run could not be reproduced: the notice that says so.
    pub replay_failed: Option<String>,
}

impl UiState {
    /// Applies one action. Returns whether the page should be re-rendered for it.
    pub fn reduce(&mut self, action: UiAction) -> bool {
        match action {
            UiAction::Opened {
                example,
                view,
                screen_view,
            } => {
                self.example = example;
                self.selection = Selection::None;
                self.message = None;
                self.drag = Drag::Idle;
                self.bind = None;
                self.focus_bind = false;
                self.field_errors.clear();
                self.field_drafts.clear();
                self.effects.clear();
                self.effects_seen = 0;
                self.dead_seen = 0;
                self.tip = None;
                self.share = None;
                self.tour = None;
                match screen_view {
                    // A link's screen view is shown as it was.
                    Some(v) => {
                        self.viewport = Some(v);
                        self.reframe = false;
                        self.wanted_view = None;
                        self.fitted = false;
                    }
                    None => self.reframe(view),
                }
            }
            UiAction::HistoryMoved => {
                self.field_errors.clear();
                self.field_drafts.clear();
                // The selection may be gone.
                self.selection = Selection::None;
            }
            UiAction::Restarted => {
                self.dead_seen = 0;
                self.tour = None;
            }
            UiAction::Select(s) => {
                if self.selection != s {
                    self.field_errors.clear();
                    self.field_drafts.clear();
                }
                self.selection = s;
            }
            UiAction::Renamed(name) => self.selection = Selection::Node(name),
            UiAction::OpenMessage(m) => {
                self.message = Some(m);
                if self.drawer == Drawer::Trace && self.drawer_open {
                    // With the Trace drawer open, a message clicked opens its trace.
                    self.trace = Some(super::trace_view::TracePick::Message(m));
                } else {
                    self.drawer = Drawer::Message;
                    self.drawer_open = true;
                }
            }
            UiAction::PickTrace(pick) => {
                self.trace = Some(pick);
                self.drawer = Drawer::Trace;
                self.drawer_open = true;
            }
            UiAction::ShowMessage(m) => self.message = Some(m),
            UiAction::Escape => {
                self.selection = Selection::None;
                self.bind = None;
                self.drag = Drag::Idle;
                self.tip = None;
                self.menu_open = false;
            }
            UiAction::FieldDraft { key, text } => {
                self.field_drafts.insert(key, text);
                return false;
            }
            UiAction::FieldSettled { key, result } => {
                self.field_drafts.remove(&key);
                match result {
                    Ok(()) => {
                        self.field_errors.remove(&key);
                    }
                    Err(refused) => {
                        self.field_errors.insert(key, refused);
                    }
                }
            }
            UiAction::Drag(d) => self.drag = d,
            UiAction::Tip(t) => {
                let changed = t.as_ref().map(|t| &t.1) != self.tip.as_ref().map(|t| &t.1);
                self.tip = t;
                return changed;
            }
            UiAction::Pan { dx, dy } => {
                // The gesture moves the view the user sees, and wins over a framing asked for.
                let vp = self.viewport.unwrap_or(Viewport::IDENTITY);
                self.viewport = Some(vp.pan(dx, dy));
                self.fitted = false;
                self.reframe = false;
            }
            UiAction::Zoom { factor, at } => {
                let vp = self.viewport.unwrap_or(Viewport::IDENTITY);
                self.viewport = Some(vp.zoom_at(factor, at));
                self.fitted = false;
                self.reframe = false;
            }
            UiAction::Fit => self.reframe(None),
            UiAction::Reframe(view) => self.reframe(view),
            UiAction::Tour(t) => self.tour = t,
            UiAction::StartScreen(show) => self.start_hidden = !show,
            UiAction::AskBinding(draft) => {
                self.bind = Some(draft);
                self.focus_bind = true;
            }
            UiAction::EditBinding { key, args } => {
                if let Some(b) = &mut self.bind {
                    if let Some(k) = key {
                        b.key = k;
                    }
                    if let Some(a) = args {
                        b.args = a;
                    }
                }
            }
            UiAction::BindingRefused(why) => {
                if let Some(b) = &mut self.bind {
                    b.error = Some(why);
                }
            }
            UiAction::CloseBinding => {
                self.bind = None;
                self.focus_bind = false;
            }
            UiAction::BindingFocused => {
                self.focus_bind = false;
                return false;
            }
            UiAction::ToggleDrawer(d) => {
                if self.drawer == d {
                    self.drawer_open = !self.drawer_open;
                } else {
                    self.drawer = d;
                    self.drawer_open = true;
                }
            }
            UiAction::ShowDrawer(d) => {
                self.drawer = d;
                self.drawer_open = true;
            }
            UiAction::DeadLettersCounted(dead) => {
                let open = self.drawer == Drawer::DeadLetters && self.drawer_open;
                if open || dead < self.dead_seen {
                    self.dead_seen = dead;
                }
                return false;
            }
            UiAction::LogFilter(f) => self.log_filter = f,
            UiAction::Share(link) => self.share = link,
            UiAction::EmbedDialog(open) => self.embed_dialog = open,
            UiAction::EmbedDraft(o) => self.embed_draft = o,
            UiAction::Notify(n) => {
                self.announcer.pending.push(n.text.clone());
                self.notice = Some(n);
            }
            UiAction::ClearNotice => self.notice = None,
            UiAction::Theme(dark) => self.dark = dark,
            UiAction::Save(s) => self.save = s,
            UiAction::Recent(r) => self.recent = r,
            UiAction::Recovery(r) => {
                self.save = match r.kept {
                    Ok(()) => super::files::SaveState::Settled,
                    Err(_) => super::files::SaveState::Held,
                };
                self.recovery = Some(r);
            }
            UiAction::RecoveryDownloaded => {
                if self.save == super::files::SaveState::Held {
                    self.save = super::files::SaveState::Settled;
                }
            }
            UiAction::RecoveryDismissed => {
                self.recovery = None;
                if self.save == super::files::SaveState::Held {
                    self.save = super::files::SaveState::Settled;
                }
            }
            UiAction::Remembered(doc, at) => {
                crate::persist::remember(&mut self.recent, doc, at);
            }
            UiAction::Recording(r) => self.recording = r,
            UiAction::Work(owner) => self.work_owner = owner,
            UiAction::WorkPosted(at) => {
                self.work_posted_ms = at;
                return false;
            }
            UiAction::FocusOn(f) => {
                self.focus = Some(f);
            }
            UiAction::Focused => {
                self.focus = None;
                return false;
            }
            UiAction::Announce(text) => {
                self.announcer.pending.push(text);
                return false;
            }
            UiAction::Menu(open) => self.menu_open = open,
            UiAction::ReducedMotion(r) => self.reduced_motion = r,
            UiAction::Reveal { at, half } => return self.reveal(at, half),
            UiAction::Frame(f) => return self.frame(f),
        }
        true
    }

    /// A frame's view maintenance; true if the page should re-render.
    fn frame(&mut self, f: Frame) -> bool {
        let mut refresh = false;
        if let Some(why) = f.replay_failed {
            self.notice = Some(Notice {
                text: format!("Paused: {why}"),
                error: true,
                at: f.now,
            });
            refresh = true;
        }
        if f.stage != self.stage {
            // When the stage changes size (an iframe laid out late, a window resized), a view
            // fitted automatically is fitted again; any other keeps its centre and zoom.
            let (was, now) = ((self.stage.0, self.stage.1), (f.stage.0, f.stage.1));
            if was != now && was.0 > 0.0 {
                self.viewport = match self.viewport {
                    _ if self.fitted => None,
                    v => v.map(|v| v.recentred(was, now)),
                };
            }
            self.stage = f.stage;
            refresh = true;
        }
        let (w, h) = (self.stage.0, self.stage.1);
        if self.reframe && w > 0.0 {
            // Framed anew below, in this frame: the old view is replaced, not shown at a
            // default scale in between.
            self.viewport = None;
            self.reframe = false;
        }
        if let Some(v) = self
            .wanted_view
            .filter(|_| self.viewport.is_none() && w > 0.0)
        {
            self.viewport = Some(Viewport::centred_on(v, w, h));
            self.wanted_view = None;
            self.fitted = false;
            refresh = true;
        }
        if self.viewport.is_none() && w > 0.0 && f.empty {
            // An empty canvas is shown at one pixel per unit: what is dropped lands where it
            // falls.
            self.viewport = Some(Viewport::IDENTITY);
            self.fitted = false;
            refresh = true;
        }
        if self.viewport.is_none() && w > 0.0 {
            let mut v = fit(f.bounds, w, h);
            if v.scale > FIT_MAX_SCALE {
                let c = Point {
                    x: w / 2.0,
                    y: h / 2.0,
                };
                v = v.zoom_at(FIT_MAX_SCALE / v.scale, c);
            }
            self.viewport = Some(v);
            self.fitted = true;
            refresh = true;
        }
        // New events become effects; after a seek back the log restarts below what was seen.
        if f.events_seen < self.effects_seen {
            self.effects.clear();
        }
        for e in f.effects {
            self.effects.push_effect(e);
        }
        self.effects_seen = f.events_seen;
        self.effects.prune(f.now);
        if self.announcer.flush(f.now) {
            refresh = true;
        }
        if self
            .notice
            .as_ref()
            .is_some_and(|n| f.now - n.at > NOTICE_MS && n.at > 0.0)
        {
            self.notice = None;
            refresh = true;
        }
        refresh
    }
    /// Pans the least that shows a box centred at `at` inside the stage; true if it panned.
    fn reveal(&mut self, at: Point, half: (f64, f64)) -> bool {
        let (w, h) = (self.stage.0, self.stage.1);
        let Some(vp) = self.viewport.filter(|_| w > 0.0 && h > 0.0) else {
            return false;
        };
        let c = vp.to_screen(at);
        let (hx, hy) = (
            half.0 * vp.scale + REVEAL_MARGIN,
            half.1 * vp.scale + REVEAL_MARGIN,
        );
        // Each axis: move the box in from whichever side it sticks out of (centre it if it
        // is wider than the stage).
        let shift = |c: f64, half: f64, size: f64| -> f64 {
            if 2.0 * half >= size {
                size / 2.0 - c
            } else if c - half < 0.0 {
                half - c
            } else if c + half > size {
                size - half - c
            } else {
                0.0
            }
        };
        let (dx, dy) = (shift(c.x, hx, w), shift(c.y, hy, h));
        if dx == 0.0 && dy == 0.0 {
            return false;
        }
        self.viewport = Some(vp.pan(dx, dy));
        self.fitted = false;
        true
    }

    /// Frames a newly opened document: at its saved `view` if it has one, else fitted.
    pub fn reframe(&mut self, view: Option<View>) {
        self.reframe = true;
        self.wanted_view = view;
    }

    /// The current view as a document's `view`, once the stage has a size.
    pub fn saved_view(&self) -> Option<View> {
        let (w, h) = (self.stage.0, self.stage.1);
        self.viewport.filter(|_| w > 0.0).map(|v| v.saved(w, h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::EffectKind;

    /// A state with something in every field an opened document must clear.
    fn busy() -> UiState {
        let mut ui = UiState::default();
        ui.reduce(UiAction::Select(Selection::Node("q".into())));
        ui.reduce(UiAction::FieldDraft {
            key: "q:x-message-ttl".into(),
            text: "12".into(),
        });
        ui.reduce(UiAction::FieldSettled {
            key: "q:x-max-length".into(),
            result: Err(("-1".into(), "out of range".into())),
        });
        ui.reduce(UiAction::OpenMessage(MessageId(7)));
        ui.reduce(UiAction::Tip(Some((
            Point { x: 1.0, y: 2.0 },
            "why".into(),
        ))));
        ui.reduce(UiAction::Share(Some("https://x/#s=1".into())));
        ui.reduce(UiAction::AskBinding(BindDraft {
            from: "x".into(),
            to: "q".into(),
            exchange_type: "direct",
            key: "k".into(),
            args: String::new(),
            error: None,
        }));
        ui.reduce(UiAction::Drag(Drag::Pan {
            last: Point { x: 0.0, y: 0.0 },
            moved: true,
        }));
        ui.reduce(UiAction::Frame(Frame {
            now: 10.0,
            stage: (800.0, 600.0, 0.0, 0.0),
            bounds: Bounds::default(),
            empty: false,
            events_seen: 40,
            effects: vec![Effect {
                kind: EffectKind::Flash { edge: EdgeId(0) },
                born: 10.0,
                life: 1000.0,
            }],
            replay_failed: None,
        }));
        ui.dead_seen = 3;
        ui
    }

    #[test]
    fn opening_a_document_clears_the_same_things_whatever_opens_it() {
        let mut ui = busy();
        assert!(ui.message.is_some() && !ui.effects.list.is_empty() && ui.bind.is_some());
        ui.reduce(UiAction::Opened {
            example: "hello".into(),
            view: None,
            screen_view: None,
        });
        assert_eq!(ui.example, "hello");
        assert_eq!(ui.selection, Selection::None);
        assert_eq!(ui.message, None);
        assert_eq!(ui.drag, Drag::Idle);
        assert!(ui.bind.is_none() && !ui.focus_bind);
        assert!(ui.field_drafts.is_empty() && ui.field_errors.is_empty());
        assert!(ui.effects.list.is_empty());
        assert_eq!((ui.effects_seen, ui.dead_seen), (0, 0));
        assert!(ui.tip.is_none() && ui.share.is_none());
        assert!(ui.reframe, "framed anew on the next frame");
    }

    #[test]
    fn a_new_selection_drops_the_inspectors_drafts_and_the_same_one_keeps_them() {
        let mut ui = busy();
        ui.reduce(UiAction::Select(Selection::Node("q".into())));
        assert_eq!(ui.field_drafts.len(), 1, "the same node: the typing stays");
        ui.reduce(UiAction::Select(Selection::Node("c".into())));
        assert!(ui.field_drafts.is_empty() && ui.field_errors.is_empty());
        ui.reduce(UiAction::FieldDraft {
            key: "c:prefetch_count".into(),
            text: "3".into(),
        });
        ui.reduce(UiAction::HistoryMoved);
        assert!(ui.field_drafts.is_empty());
        assert_eq!(ui.selection, Selection::None, "undo may have removed it");
    }

    /// A frame at `now` with a `w` × 600 stage over a 400 × 300 topology.
    fn stage_frame(now: f64, w: f64) -> UiAction {
        UiAction::Frame(Frame {
            now,
            stage: (w, 600.0, 0.0, 0.0),
            bounds: Bounds {
                min_x: 0.0,
                min_y: 0.0,
                max_x: 400.0,
                max_y: 300.0,
            },
            empty: false,
            events_seen: 0,
            effects: Vec::new(),
            replay_failed: None,
        })
    }

    #[test]
    fn fit_keeps_the_view_shown_until_the_frame_that_frames_anew() {
        let frame = |now: f64| stage_frame(now, 800.0);
        let mut ui = UiState::default();
        ui.reduce(frame(0.0));
        let fitted = ui.viewport.unwrap();
        ui.reduce(UiAction::Zoom {
            factor: 2.0,
            at: Point { x: 100.0, y: 100.0 },
        });
        let zoomed = ui.viewport.unwrap();
        // Fit: a render before the next frame still shows the zoomed view (it showed one
        // pixel per unit, which a test read as the fitted view on a slow machine).
        ui.reduce(UiAction::Fit);
        assert_eq!(ui.viewport, Some(zoomed));
        ui.reduce(frame(1.0));
        assert_eq!(ui.viewport, Some(fitted));
        assert!(ui.fitted && !ui.reframe);
        // A gesture after Fit and before the frame wins: the view it moved stays.
        ui.reduce(UiAction::Fit);
        ui.reduce(UiAction::Pan { dx: 5.0, dy: 0.0 });
        ui.reduce(frame(2.0));
        assert_eq!(ui.viewport, Some(fitted.pan(5.0, 0.0)));
        // A link's screen view is shown as it was, not framed.
        let shared = Viewport {
            scale: 0.5,
            dx: 3.0,
            dy: 4.0,
        };
        ui.reduce(UiAction::Opened {
            example: String::new(),
            view: None,
            screen_view: Some(shared),
        });
        ui.reduce(frame(3.0));
        assert_eq!(ui.viewport, Some(shared));
    }

    #[test]
    fn a_fitted_view_refits_when_the_stage_resizes_and_a_chosen_one_keeps_its_centre() {
        let mut ui = UiState::default();
        ui.reduce(stage_frame(0.0, 800.0));
        assert!(ui.fitted);
        let first = ui.viewport.unwrap();
        ui.reduce(stage_frame(1.0, 1000.0));
        let refit = ui.viewport.unwrap();
        assert!(ui.fitted && refit != first, "fitted again to the new size");
        ui.reduce(UiAction::Pan { dx: 30.0, dy: 0.0 });
        assert!(!ui.fitted);
        let panned = ui.viewport.unwrap();
        ui.reduce(stage_frame(2.0, 800.0));
        let kept = ui.viewport.unwrap();
        assert_eq!(kept.scale, panned.scale, "a chosen view keeps its zoom");
        assert!(
            (kept.dx - (panned.dx - 100.0)).abs() < 1e-9,
            "and its centre"
        );
    }

    #[test]
    fn notices_end_and_a_replay_failure_pauses_with_a_notice() {
        let mut ui = UiState::default();
        ui.reduce(UiAction::Notify(Notice {
            text: "hi".into(),
            error: false,
            at: 1.0,
        }));
        let f = |now, failed: Option<&str>| {
            UiAction::Frame(Frame {
                now,
                stage: (0.0, 0.0, 0.0, 0.0),
                bounds: Bounds::default(),
                empty: true,
                events_seen: 0,
                effects: Vec::new(),
                replay_failed: failed.map(String::from),
            })
        };
        ui.reduce(f(NOTICE_MS, None));
        assert!(ui.notice.is_some(), "still showing");
        assert!(ui.reduce(f(NOTICE_MS + 2.0, None)));
        assert!(ui.notice.is_none());
        ui.reduce(f(NOTICE_MS + 3.0, Some("edit 0 does not fit")));
        let n = ui.notice.clone().unwrap();
        assert!(n.error && n.text.contains("Paused: edit 0"), "{}", n.text);
    }

    #[test]
    fn saved_work_that_could_not_be_kept_holds_autosave_until_downloaded_or_dismissed() {
        use super::super::files::{Recovery, SaveState};
        let mut ui = UiState::default();
        ui.reduce(UiAction::Recovery(Recovery {
            why: "not JSON".into(),
            raw: "{".into(),
            kept: Err("the disk is full".into()),
        }));
        assert_eq!(ui.save, SaveState::Held);
        ui.reduce(UiAction::RecoveryDownloaded);
        assert_eq!(ui.save, SaveState::Settled);
        assert!(ui.recovery.is_some(), "the banner stays until dismissed");
        ui.reduce(UiAction::RecoveryDismissed);
        assert!(ui.recovery.is_none());
        ui.reduce(UiAction::Recovery(Recovery {
            why: "not JSON".into(),
            raw: "{".into(),
            kept: Ok(()),
        }));
        assert_eq!(
            ui.save,
            SaveState::Settled,
            "a kept copy lets autosave go on"
        );
    }

    #[test]
    fn the_live_region_speaks_at_most_every_interval_newest_first_and_repeats_itself() {
        let mut a = Announcer::default();
        assert!(!a.flush(0.0), "nothing to say");
        a.pending.push("Playing".into());
        assert!(a.flush(100.0));
        assert_eq!((a.said.as_str(), a.count), ("Playing", 1));
        for s in ["one", "two", "three", "four", "five"] {
            a.pending.push(s.into());
        }
        assert!(!a.flush(100.0 + ANNOUNCE_EVERY_MS - 1.0), "too soon");
        assert!(a.flush(100.0 + ANNOUNCE_EVERY_MS));
        assert_eq!(a.said, "2 earlier not said. three. four. five");
        // The same words again are still news to a screen reader.
        a.pending
            .push("2 earlier not said. three. four. five".into());
        assert!(a.flush(100.0 + 2.0 * ANNOUNCE_EVERY_MS));
        assert_ne!(a.said, "2 earlier not said. three. four. five");
        assert_eq!(a.said.trim_end(), "2 earlier not said. three. four. five");
    }

    #[test]
    fn a_focused_node_off_screen_is_panned_into_view_and_one_on_screen_is_not() {
        let mut ui = UiState {
            stage: (800.0, 600.0, 0.0, 0.0),
            viewport: Some(Viewport::IDENTITY),
            ..UiState::default()
        };
        let half = (70.0, 30.0);
        assert!(!ui.reduce(UiAction::Reveal {
            at: Point { x: 400.0, y: 300.0 },
            half
        }));
        assert_eq!(ui.viewport, Some(Viewport::IDENTITY));
        assert!(ui.reduce(UiAction::Reveal {
            at: Point {
                x: 1000.0,
                y: 300.0
            },
            half
        }));
        let vp = ui.viewport.unwrap();
        let s = vp.to_screen(Point {
            x: 1000.0,
            y: 300.0,
        });
        assert_eq!(
            s.x,
            800.0 - 70.0 - REVEAL_MARGIN,
            "just inside the right edge"
        );
        assert_eq!(s.y, 300.0, "the other axis does not move");
        assert!(!ui.fitted);
        assert!(ui.reduce(UiAction::Reveal {
            at: Point {
                x: 1000.0,
                y: -500.0
            },
            half
        }));
        let s = ui.viewport.unwrap().to_screen(Point {
            x: 1000.0,
            y: -500.0,
        });
        assert_eq!(s.y, 30.0 + REVEAL_MARGIN, "just inside the top");
    }

    /// Every change to the UI state goes through `reduce`: no region borrows it mutably
    /// itself (the one `borrow_mut` is `Ctx::dispatch`'s).
    #[test]
    fn the_ui_state_changes_only_through_the_reducer() {
        let sources = [
            ("app.rs", include_str!("app.rs")),
            ("canvas.rs", include_str!("canvas.rs")),
            ("drawers.rs", include_str!("drawers.rs")),
            ("embedded.rs", include_str!("embedded.rs")),
            ("files.rs", include_str!("files.rs")),
            ("focus.rs", include_str!("focus.rs")),
            ("header.rs", include_str!("header.rs")),
            ("text_view.rs", include_str!("text_view.rs")),
            ("inspector.rs", include_str!("inspector.rs")),
            ("open.rs", include_str!("open.rs")),
            ("palette.rs", include_str!("palette.rs")),
            ("picture.rs", include_str!("picture.rs")),
            ("runbar.rs", include_str!("runbar.rs")),
            ("stage.rs", include_str!("stage.rs")),
            ("mod.rs", include_str!("mod.rs")),
        ];
        let needle = ["ui.borrow", "_mut()"].concat();
        for (name, text) in sources {
            // Whitespace and line breaks do not hide a borrow (`ctx.ui\n    .borrow_mut()`).
            let text: String = text.split_whitespace().collect();
            let n = text.matches(needle.as_str()).count();
            let allowed = usize::from(name == "mod.rs");
            assert_eq!(
                n, allowed,
                "{name} changes the UI state outside the reducer"
            );
        }
    }
}
