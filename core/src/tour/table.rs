//! A figure's table: numbers read from one run of the scenario, each cell at its own moment
//! (and, with `since`, over the window since an earlier one), so that a story can set
//! measures taken at different moments side by side: a latency before a crash, what the crash
//! lost after the recovery. Each cell keeps its moment, which the page seeks to when the
//! cell is chosen.

use super::{metrics_value, read_metric, Per, Unit};
use crate::scenario::{Diagnostic, Scenario};
use crate::sim::Sim;
use crate::time::{SimDuration, SimTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The most columns a table has.
pub const MAX_COLUMNS: usize = 4;
/// The most rows a table has.
pub const MAX_ROWS: usize = 10;
/// The longest column heading, in characters.
pub const MAX_COLUMN_CHARS: usize = 40;
/// The most events the table's run may take to reach its last moment (the page runs it as
/// the step begins).
pub const TABLE_RUN_EVENTS: u64 = 5_000_000;

/// Rows of numbers under column headings: `{"columns": ["request-response", "queue"],
/// "rows": [{"label": "orders lost", "cells": [{"node": "view-1", "metric": "keys",
/// "at": "40s"}, …]}]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The column headings, left to right.
    pub columns: Vec<String>,
    /// The rows, top to bottom.
    pub rows: Vec<Row>,
}

/// One row: what it measures, and one cell per column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// What the row measures.
    pub label: String,
    /// How its numbers are written.
    #[serde(default)]
    pub unit: Unit,
    /// One per column.
    pub cells: Vec<Cell>,
}

/// One number of a table: a metric (or a ratio) read at a moment of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cell {
    /// The node whose metric this is; absent: the whole run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The metric, with `.` into a part of it, as a figure's values name it.
    pub metric: String,
    /// Divides by this other number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Per>,
    /// When it is read (`"40s"`): the moment the cell links to.
    pub at: SimDuration,
    /// If set, the cell is what changed since this earlier moment: the metric's growth over
    /// the window (and with `per`, its growth over the other's: calls per order placed in
    /// the window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<SimDuration>,
}

/// A table as read from the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TableReading {
    /// The column headings.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<RowReading>,
}

/// One row as read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowReading {
    /// What the row measures.
    pub label: String,
    /// Its cells, one per column.
    pub cells: Vec<CellReading>,
}

/// One cell as read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CellReading {
    /// The number; `None` if the run had not measured it (or a ratio's denominator was 0).
    pub value: Option<f64>,
    /// The number as written for people (`—` without one, with why if it cannot be read).
    pub shown: String,
    /// When it was read: the moment it links to.
    pub at: SimTime,
    /// The start of its window, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<SimTime>,
}

impl Cell {
    /// The moments the cell reads.
    fn moments(&self) -> impl Iterator<Item = SimTime> {
        [Some(self.at), self.since]
            .into_iter()
            .flatten()
            .map(|d| SimTime(d.0))
    }

    /// Its number, from the run's metrics at each moment it reads.
    fn value(&self, at: &BTreeMap<SimTime, Value>) -> Result<Option<f64>, super::FigureError> {
        let read = |t: SimDuration, node: Option<&str>, metric: &str| {
            read_metric(&at[&SimTime(t.0)], node, metric)
        };
        let grown = |node: Option<&str>, metric: &str| -> Result<Option<f64>, super::FigureError> {
            let Some(now) = read(self.at, node, metric)? else {
                return Ok(None);
            };
            match self.since {
                None => Ok(Some(now)),
                Some(s) => Ok(read(s, node, metric)?.map(|before| now - before)),
            }
        };
        let Some(v) = grown(self.node.as_deref(), &self.metric)? else {
            return Ok(None);
        };
        let Some(per) = &self.per else {
            return Ok(Some(v));
        };
        match grown(per.node.as_deref(), &per.metric)? {
            Some(d) if d != 0.0 => Ok(Some(v / d)),
            _ => Ok(None),
        }
    }
}

impl Table {
    /// Every moment the table reads, in order.
    pub fn moments(&self) -> Vec<SimTime> {
        let mut all: Vec<SimTime> = self
            .rows
            .iter()
            .flat_map(|r| r.cells.iter().flat_map(Cell::moments))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Runs `s` (its tour aside) from the start to the table's last moment, reading the
    /// metrics at each moment a cell asks for, and fills the table.
    pub fn run(&self, s: &Scenario) -> Result<TableReading, String> {
        let mut plain = s.clone();
        plain.tour = None;
        let mut sim = Sim::new(&plain).map_err(|d| d.to_string())?;
        let mut at = BTreeMap::new();
        let mut budget = TABLE_RUN_EVENTS;
        for t in self.moments() {
            let before = sim.steps();
            if !sim.advance_to_bounded(t, budget).reached {
                return Err(format!(
                    "the run needs more than {TABLE_RUN_EVENTS} events to reach {}",
                    SimDuration(t.0)
                ));
            }
            budget = budget.saturating_sub(sim.steps() - before);
            sim.drain_events().for_each(drop);
            at.insert(t, metrics_value(&sim));
        }
        Ok(self.fill(&at))
    }

    /// The table from the metrics at each of its moments.
    fn fill(&self, at: &BTreeMap<SimTime, Value>) -> TableReading {
        TableReading {
            columns: self.columns.clone(),
            rows: self
                .rows
                .iter()
                .map(|row| RowReading {
                    label: row.label.clone(),
                    cells: row
                        .cells
                        .iter()
                        .map(|c| {
                            let (value, shown) = match c.value(at) {
                                Ok(Some(v)) => (Some(v), row.unit.show(v)),
                                Ok(None) => (None, "—".to_owned()),
                                Err(e) => (None, format!("— ({e})")),
                            };
                            CellReading {
                                value,
                                shown,
                                at: SimTime(c.at.0),
                                since: c.since.map(|s| SimTime(s.0)),
                            }
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Every cell's moment is at or before `stop`, where its step stops.
    pub(crate) fn check_moments(&self, path: &str, stop: SimTime, diags: &mut Vec<Diagnostic>) {
        for (i, row) in self.rows.iter().enumerate() {
            for (j, c) in row.cells.iter().enumerate() {
                if SimTime(c.at.0) > stop {
                    diags.push(Diagnostic::new(
                        format!("{path}.rows[{i}].cells[{j}].at"),
                        format!(
                            "{} is after its step stops ({}): a cell reads a moment the run has reached",
                            c.at,
                            SimDuration(stop.0)
                        ),
                    ));
                }
            }
        }
    }

    /// The table's checks against the document, under `path`.
    pub(crate) fn check(
        &self,
        path: &str,
        has_node: &dyn Fn(&str) -> bool,
        diags: &mut Vec<Diagnostic>,
    ) {
        let mut say = |p: String, m: String| diags.push(Diagnostic::new(p, m));
        if self.columns.is_empty() || self.columns.len() > MAX_COLUMNS {
            say(
                format!("{path}.columns"),
                format!("expected from 1 to {MAX_COLUMNS} columns"),
            );
        }
        for (j, c) in self.columns.iter().enumerate() {
            if c.trim().is_empty() || c.chars().count() > MAX_COLUMN_CHARS {
                say(
                    format!("{path}.columns[{j}]"),
                    format!("expected a heading of 1 to {MAX_COLUMN_CHARS} characters"),
                );
            }
        }
        if self.rows.is_empty() || self.rows.len() > MAX_ROWS {
            say(
                format!("{path}.rows"),
                format!("expected from 1 to {MAX_ROWS} rows"),
            );
        }
        let limit = crate::scenario::parse::MAX_ACTION_TIME;
        for (i, row) in self.rows.iter().enumerate() {
            let at = format!("{path}.rows[{i}]");
            if row.label.trim().is_empty() || row.label.chars().count() > super::MAX_TITLE_CHARS {
                say(
                    format!("{at}.label"),
                    format!("expected 1 to {} characters", super::MAX_TITLE_CHARS),
                );
            }
            if row.cells.len() != self.columns.len() {
                say(
                    format!("{at}.cells"),
                    format!(
                        "{} cells under {} columns: one cell per column",
                        row.cells.len(),
                        self.columns.len()
                    ),
                );
            }
            for (j, c) in row.cells.iter().enumerate() {
                let cell = format!("{at}.cells[{j}]");
                if let Some(n) = &c.node {
                    if !has_node(n) {
                        say(format!("{cell}.node"), format!("no node has id {n:?}"));
                    }
                }
                if let Some(Per { node: Some(n), .. }) = &c.per {
                    if !has_node(n) {
                        say(format!("{cell}.per.node"), format!("no node has id {n:?}"));
                    }
                }
                if c.metric.trim().is_empty() {
                    say(format!("{cell}.metric"), "must not be empty".to_owned());
                }
                if c.at > limit {
                    say(
                        format!("{cell}.at"),
                        format!("{} is out of range: at most {limit}", c.at),
                    );
                }
                if let Some(s) = c.since {
                    if s >= c.at {
                        say(
                            format!("{cell}.since"),
                            format!("{s} is not before its cell's moment ({})", c.at),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cell(v: Value) -> Cell {
        serde_json::from_value(v).expect("a cell")
    }

    #[test]
    fn a_cell_reads_its_moment_and_its_window() {
        let m = |sent: u64, orders: u64| json!({"nodes": [{"name": "a", "sent": sent, "orders": orders}]});
        let at: BTreeMap<SimTime, Value> = [
            (SimTime(10_000_000), m(100, 50)),
            (SimTime(20_000_000), m(400, 150)),
        ]
        .into_iter()
        .collect();
        let plain = cell(json!({"node": "a", "metric": "sent", "at": "10s"}));
        assert_eq!(plain.value(&at), Ok(Some(100.0)));
        let ratio = cell(
            json!({"node": "a", "metric": "sent", "per": {"node": "a", "metric": "orders"}, "at": "20s"}),
        );
        assert_eq!(ratio.value(&at), Ok(Some(400.0 / 150.0)));
        // Over the window: (400 − 100) / (150 − 50) = 3, not the whole run's 2.67.
        let window = cell(
            json!({"node": "a", "metric": "sent", "per": {"node": "a", "metric": "orders"},
            "at": "20s", "since": "10s"}),
        );
        assert_eq!(window.value(&at), Ok(Some(3.0)));
        let grown = cell(json!({"node": "a", "metric": "orders", "at": "20s", "since": "10s"}));
        assert_eq!(grown.value(&at), Ok(Some(100.0)));
        // Nothing in the window to divide by: not measured.
        let empty = cell(
            json!({"node": "a", "metric": "sent", "per": {"node": "a", "metric": "orders"},
            "at": "10s", "since": "10s"}),
        );
        assert_eq!(empty.value(&at), Ok(None));
        let table = Table {
            columns: vec!["one".into(), "two".into()],
            rows: vec![Row {
                label: "r".into(),
                unit: Unit::Count,
                cells: vec![plain, window],
            }],
        };
        assert_eq!(table.moments(), [SimTime(10_000_000), SimTime(20_000_000)]);
        let read = table.fill(&at);
        assert_eq!(read.rows[0].cells[0].shown, "100");
        assert_eq!(read.rows[0].cells[1].shown, "3");
        assert_eq!(read.rows[0].cells[1].since, Some(SimTime(10_000_000)));
    }
}
