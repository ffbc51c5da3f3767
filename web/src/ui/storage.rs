//! Saved work in the browser's IndexedDB: the autosave (document and undo history), a copy of
//! saved work that could not be restored, and the recent documents. IndexedDB holds far more
//! than `localStorage`'s 5 MB per origin, so a large topology with its history still saves.
//!
//! One database, `switchboard`, with one object store, `kv`, of text values under fixed keys
//! ([`AUTOSAVE`], [`REJECTED`], [`RECENT`]). Every call is asynchronous and reports failure as
//! text for the page; nothing here decides what is kept (that is `files.rs`).

use idb::{Database, DatabaseEvent, Factory, TransactionMode};
use wasm_bindgen::JsValue;

/// The database's name.
pub const DB_NAME: &str = "switchboard";
/// Its object store.
pub const STORE: &str = "kv";
/// The autosave: the document and its undo history (`persist::encode`).
pub const AUTOSAVE: &str = "autosave";
/// Saved work that could not be restored, kept until it is downloaded or dismissed.
pub const REJECTED: &str = "autosave.rejected";
/// The recent documents (`persist::encode_recent`).
pub const RECENT: &str = "recent";
/// The autosave's mirror in `localStorage`, written synchronously with every save while it
/// fits, so a reload straight after an edit cannot outrun the asynchronous IndexedDB write.
/// Earlier builds kept the autosave only there. Of the two copies, the newer is restored.
pub const MIRROR_KEY: &str = "switchboard.autosave";

fn why(e: idb::Error) -> String {
    format!("the browser's storage refused it ({e})")
}

async fn open() -> Result<Database, String> {
    let factory = Factory::new().map_err(why)?;
    let mut request = factory.open(DB_NAME, Some(1)).map_err(why)?;
    request.on_upgrade_needed(|event| {
        if let Ok(db) = event.database() {
            if !db.store_names().iter().any(|n| n == STORE) {
                let _ = db.create_object_store(STORE, idb::ObjectStoreParams::new());
            }
        }
    });
    request.await.map_err(why)
}

/// The text stored under `key`, if any.
pub async fn get(key: &str) -> Result<Option<String>, String> {
    let db = open().await?;
    let tx = db
        .transaction(&[STORE], TransactionMode::ReadOnly)
        .map_err(why)?;
    let store = tx.object_store(STORE).map_err(why)?;
    let value = store
        .get(JsValue::from_str(key))
        .map_err(why)?
        .await
        .map_err(why)?;
    db.close();
    Ok(value.and_then(|v| v.as_string()))
}

/// Stores `text` under `key`; resolves once the write is committed.
pub async fn put(key: &str, text: &str) -> Result<(), String> {
    write(key, Some(text)).await
}

/// Removes `key`; resolves once committed.
pub async fn delete(key: &str) -> Result<(), String> {
    write(key, None).await
}

/// Stores `text` under `key` (or, with `None`, removes `key`) in one read-write transaction,
/// and says whether the browser committed it.
async fn write(key: &str, text: Option<&str>) -> Result<(), String> {
    let db = open().await?;
    let tx = db
        .transaction(&[STORE], TransactionMode::ReadWrite)
        .map_err(why)?;
    let store = tx.object_store(STORE).map_err(why)?;
    let key = JsValue::from_str(key);
    match text {
        Some(text) => {
            store
                .put(&JsValue::from_str(text), Some(&key))
                .map_err(why)?
                .await
                .map_err(why)?;
        }
        None => store.delete(key).map_err(why)?.await.map_err(why)?,
    }
    let done = tx.commit().map_err(why)?.await.map_err(why)?;
    db.close();
    if done.is_committed() {
        Ok(())
    } else {
        Err("the browser's storage did not keep it".into())
    }
}

/// The browser's `localStorage` (the text is stored as it is, not JSON-encoded: earlier
/// builds wrote the mirror's key that way).
fn local() -> web_sys::Storage {
    use gloo::storage::Storage;
    gloo::storage::LocalStorage::raw()
}

/// Whether the page may use `localStorage` at all (it may be disabled).
fn has_local() -> bool {
    web_sys::window().is_some_and(|w| w.local_storage().ok().flatten().is_some())
}

/// The autosave's `localStorage` mirror, if there is one.
pub fn mirror() -> Option<String> {
    if !has_local() {
        return None;
    }
    local().get_item(MIRROR_KEY).ok()?
}

/// Writes the mirror at once; returns whether it was written. If it does not fit (about 5 MB
/// per origin), the mirror is removed instead, so an older copy cannot pass for the newest;
/// IndexedDB holds the work.
pub fn write_mirror(text: &str) -> bool {
    if !has_local() {
        return false;
    }
    let store = local();
    if store.set_item(MIRROR_KEY, text).is_ok() {
        return true;
    }
    let _ = store.remove_item(MIRROR_KEY);
    false
}

/// Removes the mirror (its text was kept aside as unrestorable, or moved into IndexedDB).
pub fn forget_mirror() {
    if has_local() {
        let _ = local().remove_item(MIRROR_KEY);
    }
}
