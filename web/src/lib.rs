//! # switchboard-web
//!
//! The playground. It owns no semantics: it renders what `switchboard-core` reports and turns
//! gestures into commands. Layout and view maths live in [`view`] and the frame-by-frame driver
//! in [`player`], both plain Rust that native tests cover; components and hooks are thin.

pub mod app;
pub mod components;
pub mod hooks;
pub mod panic;
pub mod player;
pub mod view;

/// The scenario the page opens with.
pub const DEFAULT_SCENARIO: &str = include_str!("../../docs/examples/hello.json");

/// Mounts the app on `<body>`.
pub fn start() {
    panic::install();
    yew::Renderer::<app::App>::new().render();
}
