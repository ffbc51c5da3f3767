//! Files and storage: download the scenario, import one, and the autosave in `localStorage`.

use super::{now_ms, Ctx, Notice};
use crate::persist;
use switchboard_core::Scenario;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlInputElement, Storage, Url};
use yew::prelude::*;

/// Saved work that could not be restored: why, and the text, kept for download.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// What is wrong with it.
    pub why: String,
    /// The stored text.
    pub raw: String,
}

fn storage() -> Option<Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// Reads the autosave: `None` if there is none; otherwise the work, or why it cannot be used
/// (the text is then also kept under [`persist::REJECTED_KEY`]).
pub fn read_autosave() -> Option<Result<persist::Saved, Recovery>> {
    let store = storage()?;
    let raw = store.get_item(persist::KEY).ok()??;
    Some(persist::decode(&raw).map_err(|why| {
        let _ = store.set_item(persist::REJECTED_KEY, &raw);
        Recovery { why, raw }
    }))
}

/// Saves the session if it changed since the last save. A full or unavailable storage is
/// reported once, as a notice.
pub fn autosave(ctx: &Ctx, last: &mut u64) {
    let text = {
        let s = ctx.session.borrow();
        if s.revision() == *last {
            return;
        }
        *last = s.revision();
        let (undo, redo) = s.history();
        let example = ctx.ui.borrow().example.clone();
        persist::encode(&ctx.doc_with_view(), undo, redo, &example)
    };
    let ok = storage().is_some_and(|st| st.set_item(persist::KEY, &text).is_ok());
    if !ok {
        ctx.ui.borrow_mut().notice = Some(Notice {
            text: "Autosave failed: the browser's storage is full or unavailable. Export your work to keep it.".into(),
            error: true,
            at: now_ms(),
        });
    }
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
            let r = ctx.session.borrow_mut().load(s);
            if let Err(e) = r {
                ctx.notify(format!("{name} cannot run: {e}"), true);
                return;
            }
            {
                let mut ui = ctx.ui.borrow_mut();
                ui.example.clear();
                ui.reframe(s.view);
                ui.selection = super::Selection::None;
            }
            let left_out: Vec<String> = imported
                .unsupported
                .iter()
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect();
            let summary = format!(
                "Imported {name}: {} exchanges and queues, {} bindings.",
                s.nodes.len(),
                s.edges.len()
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
        Ok(s) => {
            let r = ctx.session.borrow_mut().load(&s);
            match r {
                Ok(()) => {
                    {
                        let mut ui = ctx.ui.borrow_mut();
                        ui.example.clear();
                        ui.reframe(s.view);
                        ui.selection = super::Selection::None;
                    }
                    ctx.notify(
                        format!("Opened {name} (Undo goes back to what was here)"),
                        false,
                    );
                }
                Err(e) => ctx.notify(format!("{name} cannot run: {e}"), true),
            }
        }
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
        let Ok(reader) = web_sys::FileReader::new() else {
            return;
        };
        let (ctx2, reader2) = (ctx.clone(), reader.clone());
        let onload = Closure::once_into_js(move || {
            let text = reader2.result().ok().and_then(|v| v.as_string());
            match text {
                Some(t) => import_text(&ctx2, &name, &t),
                None => {
                    ctx2.notify(format!("{name} could not be read as text"), true);
                    ctx2.refresh.emit(());
                }
            }
        });
        reader.set_onload(Some(onload.unchecked_ref()));
        let _ = reader.read_as_text(&file);
    })
}

/// The banner shown when saved work could not be restored.
pub fn recovery_banner(ctx: &Ctx, r: &Recovery) -> Html {
    let download_it = {
        let raw = r.raw.clone();
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            if let Err(e) = download(
                "switchboard-unrestored-autosave.json",
                "application/json",
                &raw,
            ) {
                ctx.notify(format!("Download failed: {e}"), true);
                ctx.refresh.emit(());
            }
        })
    };
    let dismiss = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            ctx.ui.borrow_mut().recovery = None;
            ctx.refresh.emit(());
        })
    };
    html! {
        <div id="recovery" class="recovery" role="alert">
            <strong>{ "Your saved work could not be restored: " }</strong>{ r.why.clone() }
            { ". It is kept; download it to look at it or fix it. You start with an empty canvas." }
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
