//! Reusable components.

mod diagnostics_panel;

pub use diagnostics_panel::DiagnosticsPanel;
