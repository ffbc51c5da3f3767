//! The `switchboard` binary: validate and run, byte-identical output for a file and seed.
#![cfg(feature = "cli")]

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn example(name: &str) -> String {
    format!("{}/../docs/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = bin().args(args).output().expect("runs");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn validate_accepts_every_example() {
    for f in ["hello.json", "relay-chain.json", "crash-restart.json"] {
        let (ok, out, err) = run(&["validate", &example(f)]);
        assert!(ok, "{f}: {err}");
        assert!(out.contains(": ok ("), "{out}");
    }
}

#[test]
fn validate_fails_with_paths_on_a_bad_document() {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"version":1,"nodes":[{"id":"p","kind":"producer","config":{"rate_per_s":-1}},{"id":"s","kind":"sink"}],
            "edges":[{"from":"p","to":"nowhere"}]}"#,
    )
    .unwrap();
    let (ok, _, err) = run(&["validate", bad.to_str().unwrap()]);
    assert!(!ok, "a bad document must fail");
    assert!(
        err.contains("nodes[0].config.rate_per_s: expected a number from 0"),
        "{err}"
    );
    assert!(
        err.contains("edges[0].to: no node has id \"nowhere\""),
        "{err}"
    );
    let (ok, _, err) = run(&["run", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("edges[0].to"), "{err}");
    let (ok, _, err) = run(&["validate", dir.join("missing.json").to_str().unwrap()]);
    assert!(!ok && err.contains("cannot read"), "{err}");
}

#[test]
fn run_is_byte_identical_for_the_same_file_and_seed() {
    let f = example("relay-chain.json");
    let a = run(&[
        "run", &f, "--until", "5s", "--seed", "9", "--trace", "ndjson",
    ]);
    let b = run(&[
        "run", &f, "--until", "5s", "--seed", "9", "--trace", "ndjson",
    ]);
    assert!(a.0 && b.0);
    assert_eq!(a.1, b.1);
    assert!(a.1.lines().count() > 100);
    for line in a.1.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        assert!(v["at_us"].as_u64().unwrap() <= 5_000_000);
    }
    let s1 = run(&["run", &f, "--until", "5s", "--seed", "9"]);
    let s2 = run(&["run", &f, "--until", "5s", "--seed", "9"]);
    assert_eq!(s1.1, s2.1);
    let summary: serde_json::Value = serde_json::from_str(&s1.1).unwrap();
    assert_eq!(summary["seed"], 9);
    assert_eq!(
        summary["events"].as_u64().unwrap(),
        a.1.lines().count() as u64
    );
    let other = run(&["run", &f, "--until", "5s", "--seed", "10"]);
    assert_ne!(s1.1, other.1, "the seed matters");
}

#[test]
fn bad_arguments_are_refused() {
    let (ok, _, err) = run(&["run", &example("hello.json"), "--until", "5 parsecs"]);
    assert!(!ok && err.contains("unit"), "{err}");
}
