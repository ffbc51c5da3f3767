//! The start screen: on an empty canvas, the stories as cards (each an example with a guided
//! tour: its title, its one-line promise and a small drawing of its topology), and "Start from
//! scratch". A card opens its example and starts its tour. Returning visitors land on their
//! autosaved work instead, so they see it only when the canvas is empty.

use super::{Ctx, Focus, UiAction};
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
    pub title: &'static str,
    /// Its tour's promise.
    pub promise: &'static str,
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

/// The cards of the stories that have a tour, in story order, from the examples' index (no
/// document is read: the start screen shows at once).
pub fn cards() -> Vec<Card> {
    STORIES
        .iter()
        .filter_map(|name| {
            let e = super::examples::entry(name)?;
            Some(Card {
                name: e.name,
                title: e.title,
                promise: e.promise?,
            })
        })
        .collect()
}

thread_local! {
    /// Each story's drawing, once its document is here.
    static PREVIEWS: std::cell::RefCell<std::collections::BTreeMap<&'static str, Preview>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
    /// Whether the stories' documents have been asked for.
    static FETCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The drawing of the story `name`, if its document is here (read once).
pub fn preview_of(name: &'static str) -> Option<Preview> {
    if let Some(p) = PREVIEWS.with(|p| p.borrow().get(name).cloned()) {
        return Some(p);
    }
    let doc = Scenario::from_json(super::examples::get(name)?).ok()?;
    let p = preview(&doc);
    PREVIEWS.with(|m| m.borrow_mut().insert(name, p.clone()));
    Some(p)
}

/// Fetches the stories' documents (once, in the background), drawing each card's topology as
/// its document arrives: the cards show at once with their titles and promises.
fn fetch_stories(ctx: &Ctx) {
    if FETCHING.with(|f| f.replace(true)) {
        return;
    }
    for name in STORIES {
        let ctx = ctx.clone();
        super::examples::prefetch(name, move || ctx.refresh.emit(()));
    }
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
    super::header::open_example_then(ctx, name, super::tour::start);
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
    fetch_stories(ctx);
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
    // Until its document arrives, the drawing's place is kept empty (no layout shift).
    let p = preview_of(name);
    html! {
        <li>
            <button class="story-card" data-story={name} {onclick}>
                if let Some(p) = p {
                    <svg class="story-preview" viewBox={p.view_box.clone()} aria-hidden="true" preserveAspectRatio="xMidYMid meet">
                        { for p.edges.iter().map(|((x1, y1), (x2, y2))| html! {
                            <line x1={x1.to_string()} y1={y1.to_string()} x2={x2.to_string()} y2={y2.to_string()} />
                        }) }
                        { for p.nodes.iter().map(|(x, y)| html! {
                            <rect x={(x - 48.0).to_string()} y={(y - 22.0).to_string()} width="96" height="44" rx="8" />
                        }) }
                    </svg>
                } else {
                    <svg class="story-preview" aria-hidden="true"></svg>
                }
                <strong class="story-title">{ c.title }</strong>
                <span class="story-promise">{ c.promise }</span>
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
        for c in &cards {
            assert!(!c.promise.is_empty() && !c.title.is_empty(), "{}", c.name);
            let p = preview_of(c.name).unwrap();
            assert!(!p.nodes.is_empty(), "{}", c.name);
            assert_eq!(preview_of(c.name), Some(p), "kept");
        }
        // Every example with a tour is a story on the start screen.
        for e in super::super::examples::INDEX {
            if e.promise.is_some() {
                assert!(
                    STORIES.contains(&e.name),
                    "{} has a tour but no card",
                    e.name
                );
            }
        }
    }
}
