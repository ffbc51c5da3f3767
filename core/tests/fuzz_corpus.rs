//! Replays the fuzz targets' regression corpus (`fuzz/corpus/`) and every example through the
//! same entry points the fuzz targets call (`switchboard_core::fuzzing`), so a crash once found
//! by fuzzing stays fixed in the normal test run.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the {target} corpus is empty");
    files
}

fn replay(target: &str, f: fn(&[u8]), extra: Vec<(String, Vec<u8>)>) {
    for (name, data) in corpus(target).into_iter().chain(extra) {
        // A panic names the input that caused it.
        let result = std::panic::catch_unwind(|| f(&data));
        assert!(result.is_ok(), "{target} panicked on {name}");
    }
}

#[test]
fn scenario_parser_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let examples = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    replay(
        "scenario_parse",
        switchboard_core::fuzzing::scenario_parse,
        examples,
    );
}

#[test]
fn definitions_import_corpus() {
    replay(
        "definitions_import",
        switchboard_core::fuzzing::definitions_import,
        Vec::new(),
    );
}
