//! View-model maths: layout, viewport fitting, interpolation and formatting.
//!
//! Plain functions over plain data, so native tests cover them. The SVG and the canvas layer both
//! place things through [`Viewport`], which is why dots stay on their edges at any size.

use switchboard_core::scenario::{Scenario, View};
use switchboard_core::SimTime;

/// Half the width of a node's box, in world units.
pub const NODE_HALF_W: f64 = 70.0;
/// Half the height of a node's box, in world units.
pub const NODE_HALF_H: f64 = 32.0;
/// The speeds offered by the speed control, as multiples of real time.
pub const SPEEDS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0];

/// A point in world (canvas-unit) coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Rightwards.
    pub x: f64,
    /// Downwards.
    pub y: f64,
}

/// An axis-aligned box in world coordinates.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bounds {
    /// Left edge.
    pub min_x: f64,
    /// Top edge.
    pub min_y: f64,
    /// Right edge.
    pub max_x: f64,
    /// Bottom edge.
    pub max_y: f64,
}

impl Bounds {
    /// Width.
    pub fn width(&self) -> f64 {
        self.max_x - self.min_x
    }
    /// Height.
    pub fn height(&self) -> f64 {
        self.max_y - self.min_y
    }
    /// As an SVG `viewBox` attribute.
    pub fn view_box(&self) -> String {
        format!(
            "{} {} {} {}",
            self.min_x,
            self.min_y,
            self.width(),
            self.height()
        )
    }
}

/// Maps world coordinates to screen pixels: `screen = world * scale + offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Viewport {
    /// Pixels per world unit.
    pub scale: f64,
    /// Horizontal offset in pixels.
    pub dx: f64,
    /// Vertical offset in pixels.
    pub dy: f64,
}

/// The closest the view zooms in and out (the scenario format's limits for a saved view).
pub const ZOOM_LIMITS: (f64, f64) = switchboard_core::scenario::View::ZOOM_LIMITS;
/// Node positions snap to this grid, in world units.
pub const GRID: f64 = 20.0;

impl Viewport {
    /// The identity view: one pixel per world unit.
    pub const IDENTITY: Viewport = Viewport {
        scale: 1.0,
        dx: 0.0,
        dy: 0.0,
    };

    /// A world point on screen.
    pub fn to_screen(&self, p: Point) -> Point {
        Point {
            x: p.x * self.scale + self.dx,
            y: p.y * self.scale + self.dy,
        }
    }

    /// The world point under a screen point.
    pub fn to_world(&self, p: Point) -> Point {
        Point {
            x: (p.x - self.dx) / self.scale,
            y: (p.y - self.dy) / self.scale,
        }
    }

    /// Zooms by `factor` keeping the world point under `anchor` (screen) where it is.
    pub fn zoom_at(&self, factor: f64, anchor: Point) -> Viewport {
        let scale = (self.scale * factor).clamp(ZOOM_LIMITS.0, ZOOM_LIMITS.1);
        let w = self.to_world(anchor);
        Viewport {
            scale,
            dx: anchor.x - w.x * scale,
            dy: anchor.y - w.y * scale,
        }
    }

    /// Moves the view by a screen distance.
    pub fn pan(&self, dx: f64, dy: f64) -> Viewport {
        Viewport {
            dx: self.dx + dx,
            dy: self.dy + dy,
            ..*self
        }
    }

    /// The view that puts the document's saved `view` (centre and zoom) in the middle of a stage
    /// `w` × `h` pixels, whatever its size.
    pub fn centred_on(v: View, w: f64, h: f64) -> Viewport {
        let scale = v.zoom.clamp(ZOOM_LIMITS.0, ZOOM_LIMITS.1);
        Viewport {
            scale,
            dx: w / 2.0 - v.x * scale,
            dy: h / 2.0 - v.y * scale,
        }
    }

    /// This view as a document's `view` for a stage `w` × `h` pixels: the world point at its
    /// centre and the zoom, rounded so links stay short (0.1 unit, 0.001 zoom).
    pub fn saved(&self, w: f64, h: f64) -> View {
        let c = self.to_world(Point {
            x: w / 2.0,
            y: h / 2.0,
        });
        View {
            x: (c.x * 10.0).round() / 10.0,
            y: (c.y * 10.0).round() / 10.0,
            zoom: (self.scale * 1000.0).round() / 1000.0,
        }
    }

    /// The same view on a stage resized from `was` to `now` (width, height): the world point
    /// at the centre stays there, at the same zoom.
    pub fn recentred(&self, was: (f64, f64), now: (f64, f64)) -> Viewport {
        self.pan((now.0 - was.0) / 2.0, (now.1 - was.1) / 2.0)
    }

    /// As an SVG `transform` attribute.
    pub fn transform(&self) -> String {
        format!("translate({} {}) scale({})", self.dx, self.dy, self.scale)
    }
}

/// Rounds a world point to the grid.
pub fn snap(p: Point) -> Point {
    Point {
        x: (p.x / GRID).round() * GRID,
        y: (p.y / GRID).round() * GRID,
    }
}

/// The index of the point nearest to `at` within `radius`, if any.
pub fn nearest_within(
    points: impl IntoIterator<Item = Point>,
    at: Point,
    radius: f64,
) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, p) in points.into_iter().enumerate() {
        let d2 = (p.x - at.x).powi(2) + (p.y - at.y).powi(2);
        if d2 <= radius * radius && best.is_none_or(|(_, b)| d2 < b) {
            best = Some((i, d2));
        }
    }
    best.map(|(i, _)| i)
}

/// The state of one slot of a queue's tube or a consumer's prefetch window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Empty.
    Free,
    /// A ready message (queue) or a buffered delivery (consumer).
    Ready,
    /// Delivered, not yet acked (queue) or being processed (consumer).
    Unacked,
}

/// `capacity` slots showing `unacked` then `ready` messages; the rest free. If there are more
/// messages than slots, the counts are scaled down in proportion, keeping at least one slot for
/// each kind that is present, and the second value is how many messages are not shown.
pub fn slots(ready: u64, unacked: u64, capacity: usize) -> (Vec<Slot>, u64) {
    let total = ready + unacked;
    let cap = capacity as u64;
    let (u, r) = if total <= cap {
        (unacked, ready)
    } else {
        let mut u = (unacked * cap).div_ceil(total.max(1)).min(cap);
        if unacked > 0 {
            u = u.max(1);
        }
        if ready > 0 && u == cap {
            u = cap - 1;
        }
        (u, cap - u)
    };
    let mut v = Vec::with_capacity(capacity);
    v.extend(std::iter::repeat_n(Slot::Unacked, u as usize));
    v.extend(std::iter::repeat_n(Slot::Ready, r as usize));
    v.resize(capacity, Slot::Free);
    (v, total.saturating_sub(cap))
}

/// Fits `bounds` into a `width` × `height` pixel area, centred, keeping the aspect ratio: the
/// same rule as SVG's `preserveAspectRatio="xMidYMid meet"`, so the canvas matches the SVG.
pub fn fit(bounds: Bounds, width: f64, height: f64) -> Viewport {
    let bw = bounds.width().max(1.0);
    let bh = bounds.height().max(1.0);
    let scale = (width / bw).min(height / bh).max(1e-6);
    Viewport {
        scale,
        dx: (width - bw * scale) / 2.0 - bounds.min_x * scale,
        dy: (height - bh * scale) / 2.0 - bounds.min_y * scale,
    }
}

/// Where each node is drawn: its scenario `position` if it has one, otherwise a column per
/// distance from the producers (longest path, cycles ignored) and a row per node in the column.
pub fn layout(s: &Scenario) -> Vec<Point> {
    let n = s.nodes.len();
    let mut depth = vec![0usize; n];
    let ends: Vec<(usize, usize)> = s.edge_ends().into_iter().flatten().collect();
    // Bellman-Ford style relaxation, bounded by n rounds so cycles terminate.
    for _ in 0..n {
        let mut changed = false;
        for &(a, b) in &ends {
            if depth[b] < depth[a] + 1 && depth[a] + 1 < n {
                depth[b] = depth[a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut row_in_column = vec![0usize; n];
    let mut rows = vec![0usize; n + 1];
    for i in 0..n {
        row_in_column[i] = rows[depth[i]];
        rows[depth[i]] += 1;
    }
    (0..n)
        .map(|i| match s.nodes[i].position {
            Some(p) => Point { x: p.x, y: p.y },
            None => Point {
                x: 140.0 + depth[i] as f64 * 260.0,
                y: 120.0 + row_in_column[i] as f64 * 140.0,
            },
        })
        .collect()
}

/// The box around every node (each of the standard size), with `pad` world units of margin.
pub fn bounds_of(points: &[Point], pad: f64) -> Bounds {
    let boxes: Vec<(Point, (f64, f64))> = points
        .iter()
        .map(|&p| (p, (NODE_HALF_W, NODE_HALF_H)))
        .collect();
    bounds_of_boxes(&boxes, pad)
}

/// The box around every node, each a centre and its half width and half height, with `pad`
/// world units of margin.
pub fn bounds_of_boxes(boxes: &[(Point, (f64, f64))], pad: f64) -> Bounds {
    let points: Vec<Point> = boxes.iter().map(|b| b.0).collect();
    let mut b = Bounds {
        min_x: f64::MAX,
        min_y: f64::MAX,
        max_x: f64::MIN,
        max_y: f64::MIN,
    };
    for &(p, (hw, hh)) in boxes {
        b.min_x = b.min_x.min(p.x - hw);
        b.max_x = b.max_x.max(p.x + hw);
        b.min_y = b.min_y.min(p.y - hh);
        b.max_y = b.max_y.max(p.y + hh);
    }
    if points.is_empty() {
        b = Bounds {
            min_x: 0.0,
            min_y: 0.0,
            max_x: 800.0,
            max_y: 400.0,
        };
    }
    Bounds {
        min_x: b.min_x - pad,
        min_y: b.min_y - pad,
        max_x: b.max_x + pad,
        max_y: b.max_y + pad,
    }
}

/// The segment an edge is drawn along: from the border of the `from` box to the border of the
/// `to` box, on the line between their centres.
pub fn edge_segment(from: Point, to: Point) -> (Point, Point) {
    let half = (NODE_HALF_W, NODE_HALF_H);
    edge_segment_sized(from, half, to, half)
}

/// [`edge_segment`] between boxes of the given half sizes.
pub fn edge_segment_sized(
    from: Point,
    from_half: (f64, f64),
    to: Point,
    to_half: (f64, f64),
) -> (Point, Point) {
    let clip = |c: Point, toward: Point, (hw, hh): (f64, f64)| {
        let (vx, vy) = (toward.x - c.x, toward.y - c.y);
        if vx == 0.0 && vy == 0.0 {
            return c;
        }
        // Scale the direction so it just reaches the box border.
        let tx = if vx != 0.0 {
            hw / vx.abs()
        } else {
            f64::INFINITY
        };
        let ty = if vy != 0.0 {
            hh / vy.abs()
        } else {
            f64::INFINITY
        };
        let t = tx.min(ty).min(1.0);
        Point {
            x: c.x + vx * t,
            y: c.y + vy * t,
        }
    };
    (clip(from, to, from_half), clip(to, from, to_half))
}

/// Where a message that departs `a` at `depart` and arrives at `b` at `arrive` is at `now`, or
/// `None` if it is not on the edge at that moment.
pub fn position_at(
    a: Point,
    b: Point,
    depart: SimTime,
    arrive: SimTime,
    now: SimTime,
) -> Option<Point> {
    if now < depart || now > arrive {
        return None;
    }
    let span = arrive.0 - depart.0;
    let f = if span == 0 {
        1.0
    } else {
        (now.0 - depart.0) as f64 / span as f64
    };
    Some(Point {
        x: a.x + (b.x - a.x) * f,
        y: a.y + (b.y - a.y) * f,
    })
}

/// Where a message is drawn with reduced motion: it does not glide, it stands at one of
/// [`MOTION_STEPS`] places along its edge (the middle of the stretch it is on), so it moves
/// in a few discrete steps while the run plays and not at all while it is paused.
pub fn position_stepped(
    a: Point,
    b: Point,
    depart: SimTime,
    arrive: SimTime,
    now: SimTime,
) -> Option<Point> {
    let p = position_at(a, b, depart, arrive, now)?;
    let len = ((b.x - a.x).powi(2) + (b.y - a.y).powi(2)).sqrt();
    if len == 0.0 {
        return Some(p);
    }
    let f = ((p.x - a.x) * (b.x - a.x) + (p.y - a.y) * (b.y - a.y)) / (len * len);
    let k = (f * MOTION_STEPS as f64)
        .floor()
        .clamp(0.0, MOTION_STEPS as f64 - 1.0);
    let f = (k + 0.5) / MOTION_STEPS as f64;
    Some(Point {
        x: a.x + (b.x - a.x) * f,
        y: a.y + (b.y - a.y) * f,
    })
}

/// The places along an edge a message stands at with reduced motion.
pub const MOTION_STEPS: u32 = 3;

/// The most characters of a node's name drawn on the canvas (a 13 px bold label in a node 140
/// units wide); longer names are cut with an ellipsis there and shown whole on hover and in
/// the inspector.
pub const NAME_CHARS: usize = 16;

/// A node's name as the canvas draws it: whole if it fits in [`NAME_CHARS`], else cut.
pub fn short_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.chars().count() <= NAME_CHARS {
        return name.into();
    }
    let head: String = name.chars().take(NAME_CHARS - 1).collect();
    format!("{head}…").into()
}

/// The label for a speed: `0.25×`, `1×`, `100×`.
pub fn speed_label(speed: f64) -> String {
    format!("{speed}×")
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_names_are_cut_on_the_canvas_only_when_too_long() {
        assert_eq!(super::short_name("orders.dlq"), "orders.dlq");
        let sixteen = "abcdefghijklmnop";
        assert_eq!(super::short_name(sixteen), sixteen);
        let long = "payments.settlement.retry.queue";
        let cut = super::short_name(long);
        assert_eq!(cut.chars().count(), super::NAME_CHARS);
        assert!(cut.ends_with('…') && long.starts_with(cut.trim_end_matches('…')));
        // Characters, not bytes: no panic inside a multi-byte character.
        assert_eq!(
            super::short_name(&"é".repeat(40)).chars().count(),
            super::NAME_CHARS
        );
    }

    use super::*;

    #[test]
    fn a_saved_view_frames_the_same_point_on_any_stage() {
        // Panned and zoomed on a wide desktop stage...
        let v = Viewport::IDENTITY
            .pan(-300.0, 120.0)
            .zoom_at(1.5, Point { x: 100.0, y: 50.0 });
        let saved = v.saved(1600.0, 900.0);
        let centre = v.to_world(Point { x: 800.0, y: 450.0 });
        assert!((saved.x - centre.x).abs() <= 0.05 && (saved.y - centre.y).abs() <= 0.05);
        assert_eq!(saved.zoom, 1.5);
        // ...and opened in a small iframe: the same world point sits in its middle, same zoom.
        let small = Viewport::centred_on(saved, 480.0, 320.0);
        let mid = small.to_screen(Point {
            x: saved.x,
            y: saved.y,
        });
        assert_eq!(mid, Point { x: 240.0, y: 160.0 });
        assert_eq!(small.scale, 1.5);
        // A saved view reopened on the same stage is the view it was saved from (to rounding).
        let again = Viewport::centred_on(saved, 1600.0, 900.0);
        assert!((again.dx - v.dx).abs() < 0.2 && (again.dy - v.dy).abs() < 0.2);
        // Resizing the stage keeps the centre where it was.
        let resized = again.recentred((1600.0, 900.0), (1000.0, 700.0));
        let c = resized.to_world(Point { x: 500.0, y: 350.0 });
        assert!((c.x - saved.x).abs() < 0.1 && (c.y - saved.y).abs() < 0.1);
        assert_eq!(resized.scale, again.scale);
        // Zoom outside the playground's range is held to it.
        let far = Viewport::centred_on(
            View {
                zoom: 50.0,
                ..saved
            },
            100.0,
            100.0,
        );
        assert_eq!(far.scale, ZOOM_LIMITS.1);
    }

    #[test]
    fn fit_centres_and_keeps_aspect() {
        let b = Bounds {
            min_x: 0.0,
            min_y: 0.0,
            max_x: 200.0,
            max_y: 100.0,
        };
        let v = fit(b, 400.0, 400.0);
        assert_eq!(v.scale, 2.0);
        // 200 px of content height in a 400 px box: 100 px margin above and below.
        assert_eq!(
            v.to_screen(Point { x: 0.0, y: 0.0 }),
            Point { x: 0.0, y: 100.0 }
        );
        assert_eq!(
            v.to_screen(Point { x: 200.0, y: 100.0 }),
            Point { x: 400.0, y: 300.0 }
        );
        let shifted = Bounds {
            min_x: 50.0,
            min_y: 50.0,
            max_x: 250.0,
            max_y: 150.0,
        };
        assert_eq!(
            fit(shifted, 400.0, 400.0).to_screen(Point { x: 50.0, y: 50.0 }),
            Point { x: 0.0, y: 100.0 }
        );
    }

    #[test]
    fn positions_interpolate_only_while_in_flight() {
        let a = Point { x: 0.0, y: 0.0 };
        let b = Point { x: 100.0, y: 50.0 };
        assert_eq!(
            position_at(a, b, SimTime(10), SimTime(20), SimTime(9)),
            None
        );
        assert_eq!(
            position_at(a, b, SimTime(10), SimTime(20), SimTime(10)),
            Some(a)
        );
        assert_eq!(
            position_at(a, b, SimTime(10), SimTime(20), SimTime(15)),
            Some(Point { x: 50.0, y: 25.0 })
        );
        assert_eq!(
            position_at(a, b, SimTime(10), SimTime(20), SimTime(20)),
            Some(b)
        );
        assert_eq!(
            position_at(a, b, SimTime(10), SimTime(20), SimTime(21)),
            None
        );
        assert_eq!(
            position_at(a, b, SimTime(10), SimTime(10), SimTime(10)),
            Some(b)
        );
    }

    #[test]
    fn edges_start_and_end_at_box_borders() {
        let (s, e) = edge_segment(Point { x: 0.0, y: 0.0 }, Point { x: 400.0, y: 0.0 });
        assert_eq!(
            s,
            Point {
                x: NODE_HALF_W,
                y: 0.0
            }
        );
        assert_eq!(
            e,
            Point {
                x: 400.0 - NODE_HALF_W,
                y: 0.0
            }
        );
        let (s, _) = edge_segment(Point { x: 0.0, y: 0.0 }, Point { x: 0.0, y: 300.0 });
        assert_eq!(
            s,
            Point {
                x: 0.0,
                y: NODE_HALF_H
            }
        );
    }

    #[test]
    fn layout_uses_positions_or_columns_by_depth() {
        let s = Scenario::from_json(
            r#"{"version":1,"nodes":[
                {"id":"p","kind":"producer","config":{"rate_per_s":1}},
                {"id":"r","kind":"relay"},
                {"id":"s","kind":"sink","position":{"x":5,"y":6}},
                {"id":"t","kind":"sink"}],
              "edges":[{"from":"p","to":"r"},{"from":"r","to":"s"},{"from":"r","to":"t"}]}"#,
        )
        .unwrap();
        let pts = layout(&s);
        assert_eq!(pts[2], Point { x: 5.0, y: 6.0 });
        assert!(
            pts[0].x < pts[1].x && pts[1].x < pts[3].x,
            "columns follow the flow: {pts:?}"
        );
        let b = bounds_of(&pts, 10.0);
        assert!(b.min_x <= 5.0 - NODE_HALF_W - 10.0 && b.max_x >= pts[3].x + NODE_HALF_W);
    }

    #[test]
    fn zoom_keeps_the_anchor_still_and_world_round_trips() {
        let v = Viewport {
            scale: 1.5,
            dx: 20.0,
            dy: -10.0,
        };
        let p = Point { x: 300.0, y: 200.0 };
        let w = v.to_world(p);
        assert_eq!(v.to_screen(w), p);
        let z = v.zoom_at(2.0, p);
        assert_eq!(z.scale, 3.0);
        let back = z.to_screen(w);
        assert!((back.x - p.x).abs() < 1e-9 && (back.y - p.y).abs() < 1e-9);
        assert_eq!(v.zoom_at(100.0, p).scale, ZOOM_LIMITS.1, "zoom is clamped");
        assert_eq!(v.pan(5.0, 6.0).to_screen(w), Point { x: 305.0, y: 206.0 });
    }

    #[test]
    fn snapping_and_hit_testing() {
        assert_eq!(snap(Point { x: 29.0, y: 31.0 }), Point { x: 20.0, y: 40.0 });
        let pts = [Point { x: 0.0, y: 0.0 }, Point { x: 10.0, y: 0.0 }];
        assert_eq!(nearest_within(pts, Point { x: 8.0, y: 0.0 }, 5.0), Some(1));
        assert_eq!(nearest_within(pts, Point { x: 50.0, y: 0.0 }, 5.0), None);
    }

    #[test]
    fn slots_show_unacked_then_ready_and_scale_when_full() {
        let (v, hidden) = slots(2, 1, 5);
        assert_eq!(
            v,
            [
                Slot::Unacked,
                Slot::Ready,
                Slot::Ready,
                Slot::Free,
                Slot::Free
            ]
        );
        assert_eq!(hidden, 0);
        let (v, hidden) = slots(1000, 1, 10);
        assert_eq!(
            v.iter().filter(|s| **s == Slot::Unacked).count(),
            1,
            "unacked stays visible"
        );
        assert_eq!(v.iter().filter(|s| **s == Slot::Ready).count(), 9);
        assert_eq!(hidden, 991);
        let (v, _) = slots(1, 1000, 10);
        assert_eq!(
            v.iter().filter(|s| **s == Slot::Ready).count(),
            1,
            "ready stays visible"
        );
        assert_eq!(slots(0, 0, 3).0, [Slot::Free; 3]);
    }

    #[test]
    fn speeds_span_a_tenth_to_a_hundred() {
        assert_eq!(SPEEDS.first(), Some(&0.1));
        assert_eq!(SPEEDS.last(), Some(&100.0));
        assert!(SPEEDS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(speed_label(0.25), "0.25×");
    }

    #[test]
    fn with_reduced_motion_a_message_stands_at_one_of_three_places() {
        let (a, b) = (Point { x: 0.0, y: 0.0 }, Point { x: 300.0, y: 0.0 });
        let at =
            |us: u64| position_stepped(a, b, SimTime(0), SimTime(3_000), SimTime(us)).map(|p| p.x);
        assert_eq!(at(0), Some(50.0));
        assert_eq!(at(999), Some(50.0));
        assert_eq!(at(1_000), Some(150.0));
        assert_eq!(at(2_500), Some(250.0));
        assert_eq!(
            at(3_000),
            Some(250.0),
            "arriving: still on the last stretch"
        );
        assert_eq!(at(3_001), None, "arrived: gone from the edge");
    }
}
