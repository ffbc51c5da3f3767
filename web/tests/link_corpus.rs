//! Replays the link decoder's fuzz regression corpus (`fuzz/corpus/link_decode/`) through the
//! entry point the fuzz target calls.

#[test]
fn link_decoder_corpus() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/link_decode");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let data = std::fs::read(&p).unwrap();
        let r = std::panic::catch_unwind(|| switchboard_web::link::fuzz_decode(&data));
        assert!(r.is_ok(), "link_decode panicked on {}", p.display());
        n += 1;
    }
    assert!(n > 0, "the corpus is empty");
}
