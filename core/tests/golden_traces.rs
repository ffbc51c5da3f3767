//! Every example's trace hash equals the one recorded in `tests/golden/trace-hashes.txt`.
//!
//! The file was recorded before the paradigm seam was built and is the proof that refactors
//! and optimisations change no trace. A change that must alter a trace re-records it with
//! `SWITCHBOARD_BLESS=1 cargo test -p switchboard-core --test golden_traces`, in a commit of its
//! own that says why. Every file in `docs/examples/` must be listed, so a new example cannot
//! go unchecked.

use switchboard_core::time::SimDuration;
use switchboard_core::trace::hash_of_run;
use switchboard_core::{Scenario, SimTime};

const GOLDEN: &str = "tests/golden/trace-hashes.txt";

/// `(file, until, hash)` for each line of the golden file.
fn golden() -> Vec<(String, String, String)> {
    let path = format!("{}/{GOLDEN}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(parts.len(), 3, "{GOLDEN}: `file until hash`, not {l:?}");
            (parts[0].into(), parts[1].into(), parts[2].into())
        })
        .collect()
}

fn hash(file: &str, until: &str) -> String {
    let path = format!("{}/../docs/examples/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let s = Scenario::from_json(&text).unwrap_or_else(|d| panic!("{file}:\n{d}"));
    let until = SimTime::ZERO + SimDuration::parse(until).expect("a duration");
    hash_of_run(&s, s.seed, until).unwrap().to_string()
}

#[test]
fn every_example_hashes_as_recorded() {
    let lines = golden();
    if std::env::var("SWITCHBOARD_BLESS").is_ok() {
        let path = format!("{}/{GOLDEN}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(String::from)
            .collect();
        for (file, until, _) in &lines {
            out.push(format!("{file} {until} {}", hash(file, until)));
        }
        std::fs::write(&path, out.join("\n") + "\n").unwrap();
        eprintln!("re-recorded {GOLDEN}: commit it on its own, saying why the traces changed");
        return;
    }
    let mut wrong = Vec::new();
    for (file, until, want) in &lines {
        let got = hash(file, until);
        if &got != want {
            wrong.push(format!("{file} (to {until}): recorded {want}, now {got}"));
        }
    }
    assert!(wrong.is_empty(), "traces changed:\n{}", wrong.join("\n"));
}

#[test]
fn every_example_is_in_the_golden_file() {
    let listed: Vec<String> = golden().into_iter().map(|(f, _, _)| f).collect();
    let dir = format!("{}/../docs/examples", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let missing: Vec<&String> = files.iter().filter(|f| !listed.contains(f)).collect();
    assert!(missing.is_empty(), "not in {GOLDEN}: {missing:?}");
    let gone: Vec<&String> = listed.iter().filter(|f| !files.contains(f)).collect();
    assert!(
        gone.is_empty(),
        "in {GOLDEN} but not in docs/examples: {gone:?}"
    );
}
