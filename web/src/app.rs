//! The app: loads the scenario and runs it with the toolbar, the topology and the flights layer.

use crate::components::{
    draw_flights, DiagnosticsPanel, Geometry, NodeBadge, Toolbar, TopologyView,
};
use crate::hooks::use_animation_frame;
use crate::player::Player;
use crate::DEFAULT_SCENARIO;
use std::rc::Rc;
use switchboard_core::{Scenario, SimTime};
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

/// How often UI summaries are copied into Yew state while playing.
const SUMMARY_EVERY_MS: f64 = 100.0;

/// The root component.
#[function_component(App)]
pub fn app() -> Html {
    let loaded = use_memo((), |_| Scenario::from_json(DEFAULT_SCENARIO).map(Rc::new));
    html! {
        <main class="app">
            <header class="app-header">
                <h1>{ "Switchboard" }</h1>
                if let Ok(s) = &*loaded {
                    <span class="scenario-name">{ &s.name }</span>
                }
            </header>
            { match &*loaded {
                Ok(s) => html! { <Playground scenario={s.clone()} /> },
                Err(d) => html! { <DiagnosticsPanel diagnostics={d.clone()} /> },
            } }
        </main>
    }
}

/// What the DOM shows of the run, refreshed a few times a second.
#[derive(Clone, Debug, PartialEq)]
struct Summary {
    running: bool,
    speed: f64,
    now: SimTime,
    steps: u64,
    next: Option<SimTime>,
    badges: Vec<NodeBadge>,
}

impl Summary {
    fn of(p: &Player) -> Summary {
        let m = p.sim().metrics();
        let badges = m
            .nodes
            .iter()
            .map(|n| NodeBadge {
                up: n.up,
                detail: match n.kind {
                    "producer" => format!("{} published", n.stats.published),
                    "sink" => format!("{} consumed", n.stats.consumed),
                    _ => format!("{} held", n.held),
                } + &if n.stats.dropped > 0 {
                    format!(" · {} dropped", n.stats.dropped)
                } else {
                    String::new()
                } + if n.up { "" } else { " · DOWN" },
            })
            .collect();
        Summary {
            running: p.is_running(),
            speed: p.speed(),
            now: p.sim().now(),
            steps: p.sim().steps(),
            next: p.sim().next_event_time(),
            badges,
        }
    }
}

/// Props of [`Playground`].
#[derive(Properties, PartialEq)]
pub struct PlaygroundProps {
    /// The scenario to run.
    pub scenario: Rc<Scenario>,
}

/// The running playground for one scenario.
#[function_component(Playground)]
pub fn playground(props: &PlaygroundProps) -> Html {
    let scenario = props.scenario.clone();
    // The Sim is not reactive state: it lives in a ref and is advanced every frame.
    let player = use_mut_ref(|| Player::new(&scenario).expect("validated scenario"));
    let geometry = use_memo(scenario.clone(), |s| Geometry::of(s));
    let summary = use_state(|| Summary::of(&player.borrow()));
    let canvas_ref = use_node_ref();
    let last_frame = use_mut_ref(|| None::<f64>);
    let last_summary = use_mut_ref(|| 0.0f64);

    // Refresh the DOM summary now (after a control was used).
    let refresh = {
        let (player, summary) = (player.clone(), summary.clone());
        move || {
            let s = Summary::of(&player.borrow());
            summary.set(s);
        }
    };

    {
        let (player, geometry, canvas_ref, summary) = (
            player.clone(),
            geometry.clone(),
            canvas_ref.clone(),
            summary.clone(),
        );
        use_animation_frame(move |ts| {
            let dt = last_frame.borrow().map_or(0.0, |prev| ts - prev);
            *last_frame.borrow_mut() = Some(ts);
            let new_summary = {
                let mut p = player.borrow_mut();
                p.tick(dt);
                if let Some(canvas) = canvas_ref.cast::<HtmlCanvasElement>() {
                    draw_flights(&canvas, &p, &geometry);
                }
                let due = ts - *last_summary.borrow() >= SUMMARY_EVERY_MS;
                (p.is_running() && due).then(|| Summary::of(&p))
            };
            // Set state only after the player borrow ends: setting may re-render synchronously.
            if let Some(s) = new_summary {
                *last_summary.borrow_mut() = ts;
                if s != *summary {
                    summary.set(s);
                }
            }
        });
    }

    let control = |f: fn(&mut Player)| {
        let (player, refresh) = (player.clone(), refresh.clone());
        Callback::from(move |_: ()| {
            f(&mut player.borrow_mut());
            refresh();
        })
    };
    let on_restart = {
        let (player, scenario, refresh) = (player.clone(), scenario.clone(), refresh.clone());
        Callback::from(move |_: ()| {
            let speed = player.borrow().speed();
            let mut fresh = Player::new(&scenario).expect("validated scenario");
            fresh.set_speed(speed);
            *player.borrow_mut() = fresh;
            refresh();
        })
    };
    let on_speed = {
        let (player, refresh) = (player.clone(), refresh.clone());
        Callback::from(move |s: f64| {
            player.borrow_mut().set_speed(s);
            refresh();
        })
    };
    let on_play = control(Player::play);
    let on_pause = control(Player::pause);
    let on_step = control(|p| {
        p.step();
    });
    let onkeydown = {
        let (on_play, on_pause, on_step) = (on_play.clone(), on_pause.clone(), on_step.clone());
        let running = summary.running;
        Callback::from(move |e: KeyboardEvent| match e.key().as_str() {
            " " => {
                e.prevent_default();
                if running {
                    on_pause.emit(())
                } else {
                    on_play.emit(())
                }
            }
            "." => on_step.emit(()),
            _ => {}
        })
    };

    let s = &*summary;
    html! {
        <div class="playground" tabindex="0" {onkeydown}>
            <Toolbar running={s.running} speed={s.speed} now={s.now} steps={s.steps} next={s.next}
                {on_play} {on_pause} {on_step} {on_restart} {on_speed} />
            <div class="stage">
                <TopologyView scenario={scenario.clone()} geometry={geometry.clone()} badges={s.badges.clone()} />
                <canvas ref={canvas_ref} id="flights" class="flights" aria-hidden="true"></canvas>
            </div>
            <p class="hint">{ &scenario.description }</p>
        </div>
    }
}
