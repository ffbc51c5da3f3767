//! `switchboard`: runs and checks scenarios headlessly.
//!
//! ```text
//! switchboard validate FILE
//! switchboard run FILE [--until 30s] [--seed N] [--trace ndjson]
//! switchboard traces FILE [--until 30s] [--seed N] [--keep 200] [--correlation N] > traces.json
//! switchboard export-definitions FILE > definitions.json
//! switchboard import-definitions definitions.json > scenario.json
//! ```
//!
//! Output is byte-identical for the same file and seed. `FILE` may be `-` for standard input.
//! The two definitions commands convert between a scenario and RabbitMQ's `definitions.json`
//! (`rabbitmqctl export_definitions` / `import_definitions`); what the conversion leaves out
//! goes to standard error, one line each, and does not make the command fail.

use clap::{Parser, Subcommand, ValueEnum};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use switchboard_core::amqp::definitions;
use switchboard_core::scenario::Validated;
use switchboard_core::trace::{self, TraceHash};
use switchboard_core::traces::{otlp, TraceLimits};
use switchboard_core::{Scenario, Sim, SimDuration, SimTime};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Run Switchboard scenarios headlessly"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a scenario file; exits non-zero and prints diagnostics if it is invalid.
    Validate {
        /// The scenario file (JSON).
        file: PathBuf,
    },
    /// Run a scenario and print a JSON summary, or every event as NDJSON.
    Run {
        /// The scenario file (JSON).
        file: PathBuf,
        /// How much simulated time to run, e.g. 30s, 500ms, 2m.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        until: SimDuration,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print every event instead of the summary.
        #[arg(long, value_enum)]
        trace: Option<TraceFormat>,
    },
    /// Run a scenario and print its distributed traces as OTLP/JSON (Jaeger's UI opens it).
    ///
    /// One trace per correlation id; the latest `--keep` chains' traces stay (the oldest go
    /// first), each up to 256 spans.
    Traces {
        /// The scenario file (JSON).
        file: PathBuf,
        /// How much simulated time to run, e.g. 30s, 500ms, 2m.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        until: SimDuration,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// How many traces to keep.
        #[arg(long, default_value_t = 200)]
        keep: usize,
        /// Only the trace of this correlation id (the number of the chain's first message).
        #[arg(long)]
        correlation: Option<u64>,
    },
    /// Take a scenario's guided tour to its end ("Show me" at every step) and print, for each
    /// step, where it stopped and its figure's numbers.
    Tour {
        /// The scenario file (JSON), with a `tour`.
        file: PathBuf,
        /// Print the outcome as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a scenario's exchanges, queues and bindings as a RabbitMQ `definitions.json`.
    ///
    /// The output is for `rabbitmqctl import_definitions`. Each object left out (clients,
    /// exclusive queues, names RabbitMQ reserves, bindings with a `null` argument) is named on
    /// standard error.
    ExportDefinitions {
        /// The scenario file (JSON), or `-` for standard input.
        file: PathBuf,
    },
    /// Print a RabbitMQ `definitions.json` as a scenario of its exchanges, queues and bindings.
    ///
    /// The input is what `rabbitmqctl export_definitions` writes. Each part the model leaves out
    /// (users, policies, other virtual hosts, unmodelled arguments) is named with its path on
    /// standard error; a file the model cannot represent exits non-zero with the problems.
    ImportDefinitions {
        /// The definitions file (JSON), or `-` for standard input.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum TraceFormat {
    /// One JSON object per line.
    Ndjson,
}

fn parse_duration(s: &str) -> Result<SimDuration, String> {
    SimDuration::parse(s).map_err(|e| e.to_string())
}

/// Reads a file, or standard input for `-`.
fn read_text(file: &Path) -> Result<String, String> {
    let result = if file == Path::new("-") {
        io::read_to_string(io::stdin())
    } else {
        std::fs::read_to_string(file)
    };
    result.map_err(|e| format!("{}: cannot read: {e}", file.display()))
}

/// Every diagnostic on its own line, prefixed with the file it is about.
fn with_file(file: &Path, diags: &switchboard_core::Diagnostics) -> String {
    diags
        .0
        .iter()
        .map(|d| format!("{}: {d}", file.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates a scenario; the error names the file and every problem.
fn load(file: &Path) -> Result<Validated, String> {
    let text = read_text(file)?;
    Scenario::from_json_validated(&text).map_err(|diags| with_file(file, &diags))
}

/// Writes `text` and a newline to standard output; a closed pipe is an error, not a panic.
fn print_out(text: &str) -> Result<(), String> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the output: {e}"))
}

/// `export-definitions`: the definitions on standard output, what is left out on standard error.
fn export_definitions(file: &Path) -> Result<(), String> {
    let scenario = load(file)?;
    let (text, left_out) = definitions::export(&scenario);
    for note in &left_out {
        eprintln!("{}: left out: {note}", file.display());
    }
    print_out(&text)
}

/// `import-definitions`: the scenario on standard output, what is not imported on standard error.
fn import_definitions(file: &Path) -> Result<(), String> {
    let text = read_text(file)?;
    let imported = definitions::import(&text).map_err(|diags| with_file(file, &diags))?;
    for d in &imported.unsupported {
        eprintln!("{}: not imported: {d}", file.display());
    }
    print_out(&imported.scenario.to_json_pretty())
}

/// `tour`: each step's stop and figure, as text or JSON.
fn tour(scenario: &Validated, json: bool) -> Result<(), String> {
    let mut sim = Sim::from_validated(scenario, scenario.seed);
    let steps = switchboard_core::tour::play(&mut sim, |_, _| {}).map_err(|e| e.to_string())?;
    if json {
        let text = serde_json::to_string_pretty(&steps).map_err(|e| e.to_string())?;
        return print_out(&text);
    }
    let mut text = String::new();
    for (i, s) in steps.iter().enumerate() {
        text.push_str(&format!(
            "{}. {} (stopped at {})\n",
            i + 1,
            s.title,
            s.stopped_at
        ));
        for r in &s.readings {
            text.push_str(&format!("   {}: {}\n", r.label, r.shown));
        }
        for line in &s.sweep {
            let points: Vec<String> = line
                .points
                .iter()
                .map(|(x, r)| format!("{x} → {}", r.shown))
                .collect();
            text.push_str(&format!(
                "   {} against the setting: {}\n",
                line.label,
                points.join(", ")
            ));
        }
        if let Some(t) = &s.table {
            text.push_str(&format!("   | | {} |\n", t.columns.join(" | ")));
            for row in &t.rows {
                let cells: Vec<String> = row
                    .cells
                    .iter()
                    .map(|c| match c.since {
                        Some(from) => format!("{} ({from}–{})", c.shown, c.at),
                        None => format!("{} (at {})", c.shown, c.at),
                    })
                    .collect();
                text.push_str(&format!("   | {} | {} |\n", row.label, cells.join(" | ")));
            }
        }
    }
    print_out(text.trim_end())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Validate { file } => load(&file).map(|s| {
            println!(
                "{}: ok ({} nodes, {} edges, {} actions)",
                file.display(),
                s.nodes.len(),
                s.edges.len(),
                s.actions.len()
            );
        }),
        Cmd::Run {
            file,
            until,
            seed,
            trace,
        } => load(&file).and_then(|s| run(&s, until, seed, trace).map_err(|e| e.to_string())),
        Cmd::Traces {
            file,
            until,
            seed,
            keep,
            correlation,
        } => load(&file).and_then(|s| traces(&s, until, seed, keep, correlation)),
        Cmd::Tour { file, json } => load(&file).and_then(|s| tour(&s, json)),
        Cmd::ExportDefinitions { file } => export_definitions(&file),
        Cmd::ImportDefinitions { file } => import_definitions(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    scenario: &Validated,
    until: SimDuration,
    seed: Option<u64>,
    format: Option<TraceFormat>,
) -> io::Result<()> {
    let seed = seed.unwrap_or(scenario.seed);
    // Validated once, when it was read.
    let mut sim = Sim::from_validated(scenario, seed);
    let end = SimTime::ZERO + until;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut hash = TraceHash::default();
    let mut events = 0u64;
    // Advance in bounded batches so the event buffer stays small however heavy the run.
    const BATCH_STEPS: u64 = 100_000;
    // Validation refuses zero-time loops; this guards against anything else that stalls time.
    const MAX_STEPS_AT_ONE_INSTANT: u64 = 50_000_000;
    let mut stalled = 0u64;
    let mut batch = Vec::new();
    // With `--trace`, each line is written once into this buffer, then hashed and printed.
    let mut line = Vec::with_capacity(256);
    loop {
        let before = sim.now();
        let adv = sim.advance_to_bounded(end, BATCH_STEPS);
        batch.clear();
        batch.extend(sim.drain_events());
        events += batch.len() as u64;
        let topo = sim.topology();
        match format {
            // Only the hash: each line is streamed into it, never built.
            None => batch.iter().for_each(|e| hash.add(e, topo)),
            Some(TraceFormat::Ndjson) => {
                for e in &batch {
                    line.clear();
                    trace::write_event(e, topo, &mut line)?;
                    line.push(b'\n');
                    hash.write(&line);
                    out.write_all(&line)?;
                }
            }
        }
        if adv.reached {
            break;
        }
        stalled = if sim.now() == before {
            stalled + adv.steps
        } else {
            0
        };
        if stalled > MAX_STEPS_AT_ONE_INSTANT {
            return Err(io::Error::other(format!(
                "stopped at {}: more than {MAX_STEPS_AT_ONE_INSTANT} events without time passing",
                sim.now()
            )));
        }
    }
    if format.is_none() {
        let summary = serde_json::json!({
            "scenario": scenario.name,
            "seed": seed,
            "until_us": end.0,
            "steps": sim.steps(),
            "events": events,
            "trace_hash": hash.to_string(),
            "metrics": sim.metrics(),
        });
        serde_json::to_writer_pretty(&mut out, &summary)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// `traces`: the run's kept traces as OTLP/JSON on standard output.
fn traces(
    scenario: &Validated,
    until: SimDuration,
    seed: Option<u64>,
    keep: usize,
    correlation: Option<u64>,
) -> Result<(), String> {
    if keep == 0 {
        return Err("--keep: keep at least one trace".into());
    }
    let mut sim = Sim::from_validated(scenario, seed.unwrap_or(scenario.seed));
    sim.keep_traces(TraceLimits {
        traces: keep,
        ..TraceLimits::default()
    });
    let end = SimTime::ZERO + until;
    loop {
        let adv = sim.advance_to_bounded(end, 100_000);
        sim.drain_events().for_each(drop);
        if adv.reached {
            break;
        }
    }
    let book = sim.traces().expect("kept");
    let only = correlation.map(switchboard_core::MessageId);
    if let Some(c) = only {
        if book.trace(c).is_none() {
            return Err(format!(
                "--correlation {}: no trace of that chain is kept (kept: {})",
                c.0,
                book.traces()
                    .map(|t| t.correlation.0.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let json = otlp::export(book, sim.topology(), only);
    print_out(&serde_json::to_string(&json).map_err(|e| e.to_string())?)
}
