//! Compiles the built-in examples (`docs/examples/*.json`) into the crate as one list, so the
//! CLI, the wasm determinism test and the golden trace test all read the same files and nobody
//! keeps a copy of the list by hand; and an index of their names, titles and tour promises,
//! which the page lists without the documents (it fetches a document when it is opened).

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dir = root.join("../docs/examples");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort_by_key(|f| f.file_stem().map(|s| s.to_owned()));
    let mut out = String::from(
        "/// Every built-in example as `(name, document)`, sorted by name: the files of\n\
         /// `docs/examples/`, without `.json`.\n\
         pub const EXAMPLES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 name");
        let path = f.canonicalize().expect("the file exists");
        writeln!(out, "    ({name:?}, include_str!({:?})),", path.display()).unwrap();
    }
    out.push_str("];\n\n");
    out.push_str(
        "/// Every built-in example's name, title and tour promise, sorted by name, read from\n\
         /// the files when the crate was built.\n\
         pub const INDEX: &[Entry] = &[\n",
    );
    for f in &files {
        let name = f
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 name");
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        // A file that is not JSON fails its own tests with a path; here it is listed untitled.
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let title = doc["name"]
            .as_str()
            .filter(|t| !t.is_empty())
            .unwrap_or(name);
        let promise = doc["tour"]["promise"].as_str();
        writeln!(
            out,
            "    Entry {{ name: {name:?}, title: {title:?}, promise: {promise:?} }},"
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("examples.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
