//! Hooks, and the event listener helper effects use.

mod listen;
mod use_animation_frame;

pub use listen::listen;
pub use use_animation_frame::use_animation_frame;
