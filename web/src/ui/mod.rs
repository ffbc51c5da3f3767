//! The page: one component ([`app::App`]) that owns the session and the UI state, and plain
//! render functions for each region. Handlers change the session, or dispatch a
//! [`state::UiAction`] to the one reducer of the UI state ([`state::UiState::reduce`]), and then
//! ask for a re-render; nothing else holds state, so there is one place to look.

pub mod app;
pub mod canvas;
pub mod drawers;
pub mod embedded;
pub mod examples;
pub mod files;
pub mod focus;
#[cfg(feature = "editor")]
pub mod header;
pub mod inspector;
pub mod open;
pub mod palette;
pub mod picture;
pub mod policies;
pub mod runbar;
pub mod stage;
#[cfg(feature = "editor")]
pub mod start;
pub mod state;
pub mod storage;
pub mod text_view;
pub mod tour;
pub mod trace_view;

use crate::editor::Session;
use std::cell::RefCell;
use std::rc::Rc;
use switchboard_core::scenario::Scenario;
use yew::Callback;

pub use state::{
    BindDraft, Caches, ConnectTargets, Drag, Drawer, Focus, LogView, Notice, Selection, UiAction,
    UiState, WorkOwner,
};

/// Shared handles every region's render function gets.
#[derive(Clone)]
pub struct Ctx {
    /// The session: document, run, history.
    pub session: Rc<RefCell<Session>>,
    /// The UI state: read it freely; change it only with [`Ctx::dispatch`].
    pub ui: Rc<RefCell<UiState>>,
    /// Memoized derivations the render functions reuse between refreshes (not state).
    pub caches: Rc<RefCell<Caches>>,
    /// Asks for a re-render. Call it after the borrows above have ended.
    pub refresh: Callback<()>,
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

    /// Changes the UI state: the one way to (through [`UiState::reduce`]). Returns whether
    /// anything changed. Does not re-render: call `refresh` after the borrows have ended.
    pub fn dispatch(&self, action: UiAction) -> bool {
        self.ui.borrow_mut().reduce(action)
    }

    /// Says `text` through the page's one polite live region (rate-limited: see
    /// [`state::Announcer`]).
    pub fn announce(&self, text: impl Into<String>) {
        self.dispatch(UiAction::Announce(text.into()));
    }

    /// Moves the focus there after the next render.
    pub fn focus(&self, f: Focus) {
        self.dispatch(UiAction::FocusOn(f));
    }

    /// Shows a notice.
    pub fn notify(&self, text: impl Into<String>, error: bool) {
        self.dispatch(UiAction::Notify(Notice {
            text: text.into(),
            error,
            at: now_ms(),
        }));
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
