//! Files and storage: download the scenario, import one, the autosave and the recent
//! documents (kept in IndexedDB by `storage.rs`), and saved work that could not be restored.

use super::{storage, Ctx, UiAction};
use crate::persist;
use switchboard_core::Scenario;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlInputElement, Url};
use yew::prelude::*;

/// Where restoring saved work stands. Autosave writes wait until it is settled, so the first
/// frames of a page cannot overwrite work that has not been read yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SaveState {
    /// The saved work is being read.
    #[default]
    Reading,
    /// Read (or there was none): every change is saved.
    Settled,
    /// Saved work that could not be restored could not be copied aside either, so it stays
    /// where it is and nothing overwrites it until it is downloaded or dismissed.
    Held,
    /// Nothing is read or written: an embedded player.
    Off,
}

impl SaveState {
    /// Its name, as the page's `data-save` attribute shows it (tests wait on it).
    pub fn name(self) -> &'static str {
        match self {
            SaveState::Reading => "reading",
            SaveState::Settled => "settled",
            SaveState::Held => "held",
            SaveState::Off => "off",
        }
    }
}

/// Saved work that could not be restored: why, the text, and whether a copy is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// What is wrong with it.
    pub why: String,
    /// The stored text.
    pub raw: String,
    /// `Ok`: a copy is kept in the browser's storage until dismissed; `Err`: it could not be
    /// copied (why), so it stays where it was and autosave is held.
    pub kept: Result<(), String>,
}

/// Reads the saved work and the recent documents, once, when the page starts (not in an
/// embedded player). `opened` is true if the page opened something of its own (an example, a
/// link): the saved work then goes one Undo below it instead of replacing it.
///
/// The work has two copies, IndexedDB's and the `localStorage` mirror (the only one earlier
/// builds wrote); the newer that reads is restored. If neither reads, the text is copied aside
/// before anything may overwrite it.
pub fn restore_saved_work(ctx: &Ctx, opened: bool) {
    let ctx = ctx.clone();
    let start_revision = ctx.session.borrow().revision();
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(Some(text)) = storage::get(storage::RECENT).await {
            ctx.dispatch(UiAction::Recent(persist::decode_recent(&text)));
        }
        let stored = storage::get(storage::AUTOSAVE).await;
        let mirror = storage::mirror();
        let stored = match stored {
            Ok(s) => s,
            Err(e) if mirror.is_none() => {
                // Nothing to restore from, and nowhere safe to save to: say so, write nothing.
                ctx.notify(
                    format!("Saved work could not be read: {e}. New work is not autosaved; export it to keep it."),
                    true,
                );
                ctx.dispatch(UiAction::Save(SaveState::Held));
                ctx.refresh.emit(());
                return;
            }
            Err(_) => None,
        };
        let copies: Vec<&str> = stored
            .iter()
            .chain(mirror.iter())
            .map(String::as_str)
            .collect();
        match persist::choose(&copies) {
            None => {}
            Some(Ok((saved, _))) => {
                let beneath = opened || ctx.session.borrow().revision() != start_revision;
                adopt(&ctx, saved, beneath);
            }
            Some(Err((why, i))) => {
                let raw = copies[i].to_owned();
                let kept = storage::put(storage::REJECTED, &raw).await;
                if kept.is_ok() && stored.is_none() {
                    // It was only in the mirror; the copy aside now holds it.
                    storage::forget_mirror();
                }
                ctx.dispatch(UiAction::Recovery(Recovery { why, raw, kept }));
                ctx.refresh.emit(());
                return;
            }
        }
        ctx.dispatch(UiAction::Save(SaveState::Settled));
        ctx.refresh.emit(());
    });
}

/// Restored work: on the canvas, or (if the page opened something else) one Undo below it.
fn adopt(ctx: &Ctx, saved: persist::Saved, beneath: bool) {
    let dropped = if saved.dropped > 0 {
        format!("; {} unreadable undo steps were left out", saved.dropped)
    } else {
        String::new()
    };
    if beneath {
        ctx.session
            .borrow_mut()
            .keep_beneath(&saved.doc, saved.undo.clone());
        remember(ctx, saved.doc.clone());
        let opened = ctx.session.borrow().doc().name;
        ctx.notify(
            format!(
                "Opened {opened:?}. Your earlier work is kept: Undo goes back to it (it is also under Open → Recent work){dropped}"
            ),
            false,
        );
        return;
    }
    let r = ctx
        .session
        .borrow_mut()
        .restore(&saved.doc, saved.undo, saved.redo);
    match r {
        Ok(()) => {
            // Its tour reopens the example pristine: have its document at hand.
            super::examples::prefetch(&saved.example, || {});
            ctx.dispatch(UiAction::Opened {
                example: saved.example.clone(),
                view: saved.doc.view,
                screen_view: None,
            });
            ctx.notify(
                format!("Restored your work from the last visit{dropped}"),
                false,
            );
        }
        Err(e) => {
            // It parses but cannot run: kept among the recent documents, not lost.
            remember(ctx, saved.doc);
            ctx.notify(
                format!("Your saved work cannot run here ({e}); it is under Open → Recent work"),
                true,
            );
        }
    }
}

/// Keeps a document that something else replaced among the recent documents.
pub fn remember(ctx: &Ctx, doc: Scenario) {
    if ctx.ui.borrow().save == SaveState::Off {
        return;
    }
    ctx.dispatch(UiAction::Remembered(doc, js_sys::Date::now()));
    let text = persist::encode_recent(&ctx.ui.borrow().recent);
    let ctx = ctx.clone();
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = storage::put(storage::RECENT, &text).await {
            ctx.notify(
                format!("The recent documents could not be saved: {e}"),
                true,
            );
            ctx.refresh.emit(());
        }
    });
}

/// Saves the session if it changed since the last save, once saved work has been read: at
/// once into the `localStorage` mirror (while it fits), and into IndexedDB. A failure is
/// reported as a notice.
pub fn autosave(ctx: &Ctx, last: &mut u64) {
    if ctx.ui.borrow().save != SaveState::Settled {
        return;
    }
    let text = {
        let s = ctx.session.borrow();
        if s.revision() == *last {
            return;
        }
        *last = s.revision();
        let (undo, redo) = s.history();
        let example = ctx.ui.borrow().example.clone();
        persist::encode(
            &ctx.doc_with_view(),
            undo,
            redo,
            &example,
            js_sys::Date::now(),
        )
    };
    let mirrored = storage::write_mirror(&text);
    let ctx = ctx.clone();
    // Writes commit in the order they are made: IndexedDB orders read-write transactions on
    // one store by creation. While the mirror holds the work, a failure here loses nothing.
    wasm_bindgen_futures::spawn_local(async move {
        if let (Err(e), false) = (storage::put(storage::AUTOSAVE, &text).await, mirrored) {
            ctx.notify(
                format!("Autosave failed: {e}. Export your work to keep it."),
                true,
            );
            ctx.refresh.emit(());
        }
    });
}

/// Offers `text` as a file download.
pub fn download(name: &str, mime: &str, text: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&text.into());
    let opts = BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = Blob::new_with_str_sequence_and_options(&parts, &opts)
        .map_err(|_| "the browser refused the download".to_owned())?;
    download_blob(name, &blob)
}

/// Offers a blob as a file download.
pub fn download_blob(name: &str, blob: &Blob) -> Result<(), String> {
    let fail = |_| "the browser refused the download".to_owned();
    let url = Url::create_object_url_with_blob(blob).map_err(fail)?;
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: HtmlAnchorElement = doc
        .create_element("a")
        .map_err(fail)?
        .dyn_into()
        .map_err(|_| "no anchor".to_owned())?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = Url::revoke_object_url(&url);
    Ok(())
}

/// A file name from a scenario name: letters, digits and dashes.
pub fn file_name(title: &str) -> String {
    let stem: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let stem = if stem.is_empty() {
        "scenario".to_owned()
    } else {
        stem
    };
    format!("{}.switchboard.json", &stem[..stem.len().min(60)])
}

/// Downloads the document on the canvas as a scenario file (the CLI runs it too).
pub fn export(ctx: &Ctx) {
    let doc = ctx.doc_with_view();
    match download(
        &file_name(&doc.name),
        "application/json",
        &doc.to_json_pretty(),
    ) {
        Ok(()) => ctx.notify(format!("Exported {}", file_name(&doc.name)), false),
        Err(e) => ctx.notify(format!("Export failed: {e}"), true),
    }
    ctx.refresh.emit(());
}

/// True if `text` looks like a RabbitMQ `definitions.json` rather than a scenario.
fn is_definitions(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
        v.get("nodes").is_none()
            && ["queues", "exchanges", "bindings"]
                .iter()
                .any(|k| v.get(*k).is_some())
    })
}

/// Opens a RabbitMQ `definitions.json`: its exchanges, queues and bindings on the canvas, and
/// what it holds that is not modelled, in the notice.
fn import_definitions(ctx: &Ctx, name: &str, text: &str) {
    match switchboard_core::amqp::definitions::import(text) {
        Ok(imported) => {
            let s = &imported.scenario;
            let had_work = match super::open::open(ctx, s, super::open::Source::File(name.into())) {
                Ok(had_work) => had_work,
                Err(e) => {
                    ctx.notify(format!("{name} cannot run: {e}"), true);
                    return;
                }
            };
            let left_out: Vec<String> = imported
                .unsupported
                .iter()
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect();
            let summary = format!(
                "Imported {name}: {} exchanges and queues, {} bindings.{}",
                s.nodes.len(),
                s.edges.len(),
                super::open::kept_note(had_work)
            );
            if left_out.is_empty() {
                ctx.notify(summary, false);
            } else {
                ctx.notify(
                    format!("{summary} Not modelled, left out: {}", left_out.join("; ")),
                    false,
                );
            }
        }
        Err(d) => ctx.notify(
            format!(
                "{name} cannot be imported. {}",
                super::diagnostics_text(&d, 6)
            ),
            true,
        ),
    }
}

/// Downloads the broker objects as a `definitions.json` for `rabbitmqctl import_definitions`.
pub fn export_definitions(ctx: &Ctx) {
    let doc = ctx.session.borrow().doc();
    let (text, left_out) = switchboard_core::amqp::definitions::export(&doc);
    match download("definitions.json", "application/json", &text) {
        Ok(()) if left_out.is_empty() => ctx.notify("Exported definitions.json", false),
        Ok(()) => ctx.notify(
            format!(
                "Exported definitions.json. Not in it: {}",
                left_out.join("; ")
            ),
            false,
        ),
        Err(e) => ctx.notify(format!("Export failed: {e}"), true),
    }
    ctx.refresh.emit(());
}

/// Opens a scenario file's text (or a RabbitMQ `definitions.json`): on the canvas if it is
/// valid (undoable), else the problems.
pub fn import_text(ctx: &Ctx, name: &str, text: &str) {
    if is_definitions(text) {
        import_definitions(ctx, name, text);
        ctx.refresh.emit(());
        return;
    }
    match Scenario::from_json_draft(text) {
        Ok(s) => match super::open::open(ctx, &s, super::open::Source::File(name.to_owned())) {
            Ok(had_work) => ctx.notify(
                format!("Opened {name}.{}", super::open::kept_note(had_work)),
                false,
            ),
            Err(e) => ctx.notify(format!("{name} cannot run: {e}"), true),
        },
        Err(d) => ctx.notify(
            format!(
                "{name} cannot be opened. {}",
                super::diagnostics_text(&d, 6)
            ),
            true,
        ),
    }
    ctx.refresh.emit(());
}

/// The hidden file input's change: reads the chosen file as text.
pub fn on_file_chosen(ctx: &Ctx) -> Callback<Event> {
    let ctx = ctx.clone();
    Callback::from(move |e: Event| {
        let input: HtmlInputElement = e.target_unchecked_into();
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        input.set_value("");
        let name = file.name();
        if file.size() > switchboard_core::scenario::MAX_DOCUMENT_BYTES as f64 {
            ctx.notify(
                format!(
                    "{name} is {} bytes; a scenario is at most {} bytes",
                    file.size(),
                    switchboard_core::scenario::MAX_DOCUMENT_BYTES
                ),
                true,
            );
            ctx.refresh.emit(());
            return;
        }
        let ctx = ctx.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match gloo::file::futures::read_as_text(&gloo::file::File::from(file)).await {
                Ok(t) => import_text(&ctx, &name, &t),
                Err(e) => {
                    ctx.notify(format!("{name} could not be read as text: {e}"), true);
                    ctx.refresh.emit(());
                }
            }
        });
    })
}

/// The banner shown when saved work could not be restored. It says exactly where the work
/// is: copied aside (until dismissed), or left in place with autosave held.
pub fn recovery_banner(ctx: &Ctx, r: &Recovery) -> Html {
    let download_it = {
        let raw = r.raw.clone();
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            match download(
                "switchboard-unrestored-autosave.json",
                "application/json",
                &raw,
            ) {
                Ok(()) => {
                    // Downloaded: it is the user's now; autosave may go on.
                    ctx.dispatch(UiAction::RecoveryDownloaded);
                }
                Err(e) => ctx.notify(format!("Download failed: {e}"), true),
            }
            ctx.refresh.emit(());
        })
    };
    let dismiss = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            ctx.dispatch(UiAction::RecoveryDismissed);
            wasm_bindgen_futures::spawn_local(async {
                let _ = storage::delete(storage::REJECTED).await;
            });
            ctx.refresh.emit(());
        })
    };
    let where_it_is = match &r.kept {
        Ok(()) => format!(
            ". A copy ({} bytes) is kept in this browser's storage until you dismiss this; download it to look at it or fix it.",
            r.raw.len()
        ),
        Err(e) => format!(
            ". It could not be copied aside ({e}), so it stays where it was, and your new work is not autosaved until you download it or dismiss this."
        ),
    };
    html! {
        <div id="recovery" class="recovery" role="alert" data-kept={r.kept.is_ok().to_string()}>
            <strong>{ "Your saved work could not be restored: " }</strong>{ r.why.clone() }
            { where_it_is }
            <button data-action="download-rejected" onclick={download_it}>{ "Download it" }</button>
            <button data-action="dismiss-recovery" onclick={dismiss}>{ "Dismiss" }</button>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_tame() {
        assert_eq!(
            file_name("AMQP: dead letters!"),
            "amqp-dead-letters.switchboard.json"
        );
        assert_eq!(file_name("<script>"), "script.switchboard.json");
        assert_eq!(file_name("  "), "scenario.switchboard.json");
        assert!(file_name(&"x".repeat(500)).len() < 80);
    }
}
