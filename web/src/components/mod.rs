//! Components.

mod diagnostics_panel;
mod flights_canvas;
mod toolbar;
mod topology_view;

pub use diagnostics_panel::DiagnosticsPanel;
pub use flights_canvas::draw_flights;
pub use toolbar::Toolbar;
pub use topology_view::{Geometry, NodeBadge, TopologyView};
