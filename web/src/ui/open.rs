//! Opening a document: an example, a file, a share link, a recent document. Whatever opens
//! it, it goes through [`open`]: the session loads it, the page clears what belonged to the
//! previous document ([`super::UiState::opened`]), and the work it replaces is kept, one Undo
//! away and among the recent documents.

use super::{files, Ctx, UiAction};
use switchboard_core::{Edit, Scenario};

/// What is being opened, for the page's state and its notice.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A built-in example, by name.
    Example(String),
    /// A file, by name.
    File(String),
    /// A share link's run: the edits replay as it plays. A link-format-1 view comes along.
    Link {
        /// The run's edit log.
        edits: Vec<Edit>,
        /// A link-format-1 view, `(dx, dy, scale)`.
        screen_view: Option<(f64, f64, f64)>,
    },
    /// A recent document.
    Recent,
    /// A `load` command from the page embedding the player.
    Host,
}

thread_local! {
    /// How many documents have been opened: a document fetched for an open asked for earlier
    /// is not opened over one opened since.
    static OPENED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many documents have been opened in this page so far.
pub fn generation() -> u64 {
    OPENED.with(|o| o.get())
}

/// Opens `doc`. Returns whether there was work on the canvas that it replaced (kept one Undo
/// away and among the recent documents), or why it cannot be opened (nothing changed).
pub fn open(ctx: &Ctx, doc: &Scenario, source: Source) -> Result<bool, String> {
    OPENED.with(|o| o.set(o.get() + 1));
    let replaced = ctx.session.borrow().doc();
    let r = match &source {
        Source::Link { edits, .. } => ctx.session.borrow_mut().load_run(doc, edits.clone()),
        Source::Example(_) | Source::File(_) | Source::Recent | Source::Host => {
            ctx.session.borrow_mut().load(doc)
        }
    };
    r.map_err(|e| e.to_string())?;
    let (example, screen_view) = match &source {
        Source::Example(name) => (name.as_str(), None),
        Source::Link { screen_view, .. } => (
            "",
            screen_view.map(|(dx, dy, scale)| crate::view::Viewport { scale, dx, dy }),
        ),
        Source::File(_) | Source::Recent | Source::Host => ("", None),
    };
    ctx.dispatch(UiAction::Opened {
        example: example.to_owned(),
        view: doc.view,
        screen_view,
    });
    let had_work = !replaced.nodes.is_empty();
    // An embedded player keeps nothing of the reader's: no recent documents there.
    if had_work && ctx.ui.borrow().embed.is_none() {
        files::remember(ctx, replaced);
    }
    Ok(had_work)
}

/// The notice after opening something over `had_work`.
pub fn kept_note(had_work: bool) -> &'static str {
    if had_work {
        " Undo goes back to what was here (it is also under Open → Recent work)."
    } else {
        ""
    }
}
