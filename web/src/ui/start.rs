//! The start screen: on an empty canvas, the stories as cards (each an example with a guided
//! tour: its title, its one-line promise and a small drawing of its topology), and "Start from
//! scratch". A card opens its example and starts its tour. Returning visitors land on their
//! autosaved work instead, so they see it only when the canvas is empty.

use super::{Ctx, Focus, UiAction};
use std::sync::OnceLock;
use switchboard_core::Scenario;
use yew::prelude::*;

/// The stories, in the order the design tells them: each is an example with a tour.
pub const STORIES: &[&str] = &[
    "http-timeout-cascade",
    "http-retry-storm",
    "queue-decoupling",
    "amqp-exchange-types",
    "amqp-quorum-delivery-limit",
    "amqp-prefetch-throughput",
    "bullmq-retries-and-backoff",
    "kafka-consumer-group-rebalance",
    "data-read-model",
    "data-payment-redelivery",
    "amqp-backpressure",
    "order-journey",
    "paradigm-comparison",
];

/// One story's card.
#[derive(Clone, Debug, PartialEq)]
pub struct Card {
    /// The example's name (`docs/examples/<name>.json`).
    pub name: &'static str,
    /// The scenario's title.
    pub title: String,
    /// Its tour's promise.
    pub promise: String,
    /// Its topology, small.
    pub preview: Preview,
}

/// A topology drawn small: node centres and edges, in canvas units, and the box around them.
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    /// `min-x min-y width height`.
    pub view_box: String,
    /// Node centres.
    pub nodes: Vec<(f64, f64)>,
    /// Edges, centre to centre.
    pub edges: Vec<((f64, f64), (f64, f64))>,
}

/// The cards of the stories that have a tour, in story order (read once).
pub fn cards() -> &'static [Card] {
    static CARDS: OnceLock<Vec<Card>> = OnceLock::new();
    CARDS.get_or_init(|| {
        STORIES
            .iter()
            .filter_map(|name| {
                let doc = Scenario::from_json(super::examples::get(name)?).ok()?;
                let tour = doc.tour.as_ref()?;
                Some(Card {
                    name,
                    title: doc.name.clone(),
                    promise: tour.promise.clone(),
                    preview: preview(&doc),
                })
            })
            .collect()
    })
}

fn preview(doc: &Scenario) -> Preview {
    let auto = crate::view::layout(doc);
    let at: Vec<(f64, f64)> = doc
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| n.position.map_or((auto[i].x, auto[i].y), |p| (p.x, p.y)))
        .collect();
    let edges = doc
        .edge_ends()
        .into_iter()
        .flatten()
        .map(|(a, b)| (at[a], at[b]))
        .collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in &at {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let pad = 50.0;
    Preview {
        view_box: format!(
            "{} {} {} {}",
            x0 - pad,
            y0 - pad,
            (x1 - x0) + 2.0 * pad,
            (y1 - y0) + 2.0 * pad
        ),
        nodes: at,
        edges,
    }
}

/// Opens the story `name` and starts its tour.
pub fn take(ctx: &Ctx, name: &str) {
    super::header::open_example(ctx, name);
    super::tour::start(ctx);
}

/// The start screen, drawn over the empty canvas.
pub fn render(ctx: &Ctx) -> Html {
    let scratch = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            ctx.dispatch(UiAction::StartScreen(false));
            ctx.announce("The stories are put away: drag from the palette to build");
            ctx.focus(Focus::Css(".palette-item".into()));
            ctx.refresh.emit(());
        })
    };
    // Keys and pointers on the cards are theirs: the canvas's shortcuts and gestures must not
    // also see them (Space plays on the canvas).
    let keep_keys = Callback::from(|e: KeyboardEvent| e.stop_propagation());
    let keep_pointer = Callback::from(|e: PointerEvent| e.stop_propagation());
    html! {
        <div class="start-screen" role="region" aria-labelledby="start-title"
            onkeydown={keep_keys} onpointerdown={keep_pointer}>
            <h2 id="start-title">{ "Take a story" }</h2>
            <p class="muted">{ "Each one plays by itself, stops where something happens, says why, and ends on a number the run measured. Then it is yours to break." }</p>
            <ul class="story-cards">
                { for cards().iter().map(|c| card(ctx, c)) }
            </ul>
            <p class="start-scratch">
                <button data-action="start-scratch" onclick={scratch}>{ "Start from scratch" }</button>
                <span class="muted">{ " or open any example from the menu above." }</span>
            </p>
        </div>
    }
}

fn card(ctx: &Ctx, c: &Card) -> Html {
    let name = c.name;
    let onclick = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| take(&ctx, name))
    };
    let p = &c.preview;
    html! {
        <li>
            <button class="story-card" data-story={name} {onclick}>
                <svg class="story-preview" viewBox={p.view_box.clone()} aria-hidden="true" preserveAspectRatio="xMidYMid meet">
                    { for p.edges.iter().map(|((x1, y1), (x2, y2))| html! {
                        <line x1={x1.to_string()} y1={y1.to_string()} x2={x2.to_string()} y2={y2.to_string()} />
                    }) }
                    { for p.nodes.iter().map(|(x, y)| html! {
                        <rect x={(x - 48.0).to_string()} y={(y - 22.0).to_string()} width="96" height="44" rx="8" />
                    }) }
                </svg>
                <strong class="story-title">{ c.title.clone() }</strong>
                <span class="story-promise">{ c.promise.clone() }</span>
            </button>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_story_with_a_tour_has_a_card_in_story_order() {
        let cards = cards();
        let with_tours: Vec<&str> = STORIES
            .iter()
            .copied()
            .filter(|n| {
                Scenario::from_json(super::super::examples::get(n).expect("a story is an example"))
                    .unwrap()
                    .tour
                    .is_some()
            })
            .collect();
        assert!(with_tours.len() >= 4, "{with_tours:?}");
        assert_eq!(cards.iter().map(|c| c.name).collect::<Vec<_>>(), with_tours);
        for c in cards {
            assert!(!c.promise.is_empty() && !c.title.is_empty(), "{}", c.name);
            assert!(!c.preview.nodes.is_empty(), "{}", c.name);
        }
        // Every example with a tour is a story on the start screen.
        for (name, text) in super::super::examples::EXAMPLES {
            if Scenario::from_json(text).unwrap().tour.is_some() {
                assert!(STORIES.contains(name), "{name} has a tour but no card");
            }
        }
    }
}
