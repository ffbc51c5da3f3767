//! Entry points shared by the fuzz targets (`fuzz/`) and the tests that replay their
//! regression corpus (`core/tests/fuzz_corpus.rs`). Each takes arbitrary bytes and must never
//! panic; what it checks beyond that is in its doc.

use crate::scenario::Scenario;
use crate::sim::Sim;
use crate::time::SimTime;

/// The scenario parser on arbitrary input, both rule sets. A document that parses must run:
/// a short bounded simulation, with conservation checked at its end.
pub fn scenario_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Scenario::from_json_draft(text);
    let Ok(s) = Scenario::from_json(text) else {
        return;
    };
    let mut sim = Sim::new(&s).expect("a parsed scenario builds");
    sim.advance_to_bounded(SimTime(2_000_000), 20_000);
    let _ = sim.drain_events().count();
    sim.check_conservation()
        .expect("messages are conserved in any parsed scenario");
    // The canonical form reads back to the same scenario.
    let again = Scenario::from_json(&s.to_json_pretty()).expect("the canonical form parses");
    assert_eq!(again, s, "the canonical form round-trips");
}

/// The `definitions.json` importer on arbitrary input. What it imports exports and imports
/// again to the same exchanges, queues and bindings.
pub fn definitions_import(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(imported) = crate::amqp::definitions::import(text) else {
        return;
    };
    let (exported, _) = crate::amqp::definitions::export(&imported.scenario);
    let again = crate::amqp::definitions::import(&exported).expect("an export imports");
    let mut a = imported.scenario.nodes.clone();
    let mut b = again.scenario.nodes.clone();
    a.sort_by(|x, y| x.id.cmp(&y.id));
    b.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(a, b, "export then import keeps the broker objects");
}
