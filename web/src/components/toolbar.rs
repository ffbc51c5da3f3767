//! Run controls: play, pause, step, restart, speed, and the simulated clock.

use crate::view::{speed_label, SPEEDS};
use switchboard_core::SimTime;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// Props of [`Toolbar`].
#[derive(Properties, PartialEq)]
pub struct ToolbarProps {
    /// Playing or paused.
    pub running: bool,
    /// Current speed.
    pub speed: f64,
    /// The simulated clock.
    pub now: SimTime,
    /// Events processed.
    pub steps: u64,
    /// When the next event is due, if any.
    pub next: Option<SimTime>,
    /// Play pressed.
    pub on_play: Callback<()>,
    /// Pause pressed.
    pub on_pause: Callback<()>,
    /// Step pressed.
    pub on_step: Callback<()>,
    /// Restart pressed.
    pub on_restart: Callback<()>,
    /// A speed chosen.
    pub on_speed: Callback<f64>,
}

/// The run controls.
#[function_component(Toolbar)]
pub fn toolbar(p: &ToolbarProps) -> Html {
    let on_speed = {
        let cb = p.on_speed.clone();
        Callback::from(move |e: Event| {
            let select: HtmlSelectElement = e.target_unchecked_into();
            if let Ok(v) = select.value().parse::<f64>() {
                cb.emit(v);
            }
        })
    };
    let click = |cb: &Callback<()>| {
        let cb = cb.clone();
        Callback::from(move |_: MouseEvent| cb.emit(()))
    };
    // Icons are inline SVG: symbol glyphs are missing from many system fonts.
    let icon = |d: &'static str| {
        html! {
            <svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d={d} /></svg>
        }
    };
    html! {
        <div class="toolbar" role="toolbar" aria-label="Run controls">
            if p.running {
                <button data-action="pause" title="Pause (Space)" onclick={click(&p.on_pause)}>{ icon("M4 3h3v10H4zM9 3h3v10H9z") }{ "Pause" }</button>
            } else {
                <button data-action="play" title="Play (Space)" onclick={click(&p.on_play)}>{ icon("M4 2.5v11l9-5.5z") }{ "Play" }</button>
            }
            <button data-action="step" title="Process exactly one event (.)" onclick={click(&p.on_step)}>{ icon("M3 2.5v11l7-5.5zM11 3h2.5v10H11z") }{ "Step" }</button>
            <button data-action="restart" title="Back to time zero" onclick={click(&p.on_restart)}>{ icon("M8 2.5a5.5 5.5 0 1 1-5.2 3.7l1.9.6A3.5 3.5 0 1 0 8 4.5V7L4 3.5 8 0z") }{ "Restart" }</button>
            <label class="speed">
                { "Speed " }
                <select id="speed" onchange={on_speed} aria-label="Speed">
                    { for SPEEDS.iter().map(|&s| html! {
                        <option value={s.to_string()} selected={s == p.speed}>{ speed_label(s) }</option>
                    }) }
                </select>
            </label>
            <output id="clock" class="clock" aria-label="Simulated time"
                data-now-us={p.now.0.to_string()} data-steps={p.steps.to_string()}
                data-next-us={p.next.map(|t| t.0.to_string()).unwrap_or_default()}>
                { p.now.to_string() }
            </output>
            <span class="next" title="When Step will land">
                { p.next.map(|t| format!("next {t}")).unwrap_or_else(|| "nothing scheduled".into()) }
            </span>
            <span class="steps">{ format!("{} events", p.steps) }</span>
        </div>
    }
}
