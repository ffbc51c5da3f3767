//! Shows why a scenario could not be loaded.

use switchboard_core::Diagnostics;
use yew::prelude::*;

/// Props of [`DiagnosticsPanel`].
#[derive(Properties, PartialEq)]
pub struct DiagnosticsPanelProps {
    /// What to explain.
    pub diagnostics: Diagnostics,
}

/// A list of diagnostics, each with its path. Text only: names in documents are never markup.
#[function_component(DiagnosticsPanel)]
pub fn diagnostics_panel(props: &DiagnosticsPanelProps) -> Html {
    html! {
        <section id="error-banner" class="error-banner" role="alert">
            <h2>{ "This scenario cannot be loaded" }</h2>
            <ul>
                { for props.diagnostics.0.iter().map(|d| html! {
                    <li><code>{ &d.path }</code>{ ": " }{ &d.message }</li>
                }) }
            </ul>
        </section>
    }
}
