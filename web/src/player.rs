//! The player: owns the `Sim`, turns wall-clock frames into simulated time, and tracks the
//! messages in flight for the canvas. No DOM here, so native tests drive it.

use switchboard_core::{EdgeId, EventKind, MessageId, Scenario, Sim, SimTime};

/// At most this many events per animation frame, so a frame never stalls the page.
pub const STEP_BUDGET_PER_FRAME: u64 = 200_000;
/// A frame longer than this (a background tab, a debugger pause) counts as this long.
pub const MAX_FRAME_MS: f64 = 250.0;

/// A message on an edge, for the canvas layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flight {
    /// The message.
    pub message: MessageId,
    /// The edge it travels.
    pub edge: EdgeId,
    /// When it left.
    pub depart: SimTime,
    /// When it arrives.
    pub arrive: SimTime,
}

/// Drives a simulation for display.
pub struct Player {
    sim: Sim,
    running: bool,
    speed: f64,
    /// Fractional microseconds carried between frames, so slow speeds stay exact over time.
    carry_us: f64,
    flights: Vec<Flight>,
}

impl Player {
    /// A paused player at time zero.
    pub fn new(scenario: &Scenario) -> Result<Player, switchboard_core::Diagnostics> {
        Ok(Player {
            sim: Sim::new(scenario)?,
            running: false,
            speed: 1.0,
            carry_us: 0.0,
            flights: Vec::new(),
        })
    }

    /// The simulation (read-only).
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// True while playing.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The playback speed as a multiple of real time.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Starts playing.
    pub fn play(&mut self) {
        self.running = true;
    }

    /// Stops playing; the clock stays where it is.
    pub fn pause(&mut self) {
        self.running = false;
        self.carry_us = 0.0;
    }

    /// Sets the speed, clamped to 0.1×–100×.
    pub fn set_speed(&mut self, speed: f64) {
        self.speed = speed.clamp(0.1, 100.0);
    }

    /// Pauses and processes exactly one event. Returns false if nothing was scheduled.
    pub fn step(&mut self) -> bool {
        self.pause();
        let stepped = self.sim.step().is_some();
        self.absorb_events();
        stepped
    }

    /// Advances by one animation frame of `wall_ms` milliseconds, if playing.
    pub fn tick(&mut self, wall_ms: f64) {
        // NaN and non-positive frame times (clock hiccups) move nothing.
        if !self.running || wall_ms.is_nan() || wall_ms <= 0.0 {
            return;
        }
        let us = wall_ms.min(MAX_FRAME_MS) * 1_000.0 * self.speed + self.carry_us;
        let whole = us.floor();
        self.carry_us = us - whole;
        let target = SimTime(self.sim.now().0 + whole as u64);
        self.sim.advance_to_bounded(target, STEP_BUDGET_PER_FRAME);
        self.absorb_events();
    }

    fn absorb_events(&mut self) {
        let now = self.sim.now();
        self.flights.retain(|f| f.arrive >= now);
        for e in self.sim.drain_events() {
            if let EventKind::Sent {
                message,
                edge,
                depart,
                arrive,
                ..
            } = e.kind
            {
                if arrive >= now {
                    self.flights.push(Flight {
                        message,
                        edge,
                        depart,
                        arrive,
                    });
                }
            }
        }
    }

    /// Messages on edges right now.
    pub fn flights(&self) -> &[Flight] {
        &self.flights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello() -> Scenario {
        Scenario::from_json(include_str!("../../docs/examples/hello.json")).unwrap()
    }

    #[test]
    fn paused_frames_do_not_move_time() {
        let mut p = Player::new(&hello()).unwrap();
        p.tick(16.0);
        assert_eq!(p.sim().now(), SimTime::ZERO);
    }

    #[test]
    fn frames_advance_by_wall_time_times_speed() {
        let mut p = Player::new(&hello()).unwrap();
        p.play();
        p.tick(16.0);
        assert_eq!(p.sim().now(), SimTime(16_000));
        p.set_speed(10.0);
        p.tick(16.0);
        assert_eq!(p.sim().now(), SimTime(176_000));
        p.tick(10_000.0);
        assert_eq!(
            p.sim().now(),
            SimTime(176_000 + 2_500_000),
            "long frames are capped at 250 ms"
        );
    }

    #[test]
    fn slow_speeds_keep_fractions() {
        let mut p = Player::new(&hello()).unwrap();
        p.play();
        p.set_speed(0.1);
        for _ in 0..3 {
            p.tick(16.6667);
        }
        // 3 × 1666.67 µs = 5000.01 µs, floored to 5000 only once, not three times.
        assert_eq!(p.sim().now(), SimTime(5_000));
    }

    #[test]
    fn step_pauses_and_moves_exactly_one_event() {
        let mut p = Player::new(&hello()).unwrap();
        p.play();
        let next = p.sim().next_event_time().unwrap();
        assert!(p.step());
        assert!(!p.is_running());
        assert_eq!(p.sim().steps(), 1);
        assert_eq!(p.sim().now(), next);
        assert_eq!(
            p.flights().len(),
            1,
            "the first publish puts one message on the edge"
        );
    }

    #[test]
    fn flights_leave_when_they_arrive() {
        let mut p = Player::new(&hello()).unwrap();
        p.play();
        let mut seen = 0;
        for _ in 0..600 {
            p.tick(16.0);
            let now = p.sim().now();
            assert!(p
                .flights()
                .iter()
                .all(|f| f.depart <= now && now <= f.arrive));
            seen = seen.max(p.flights().len());
        }
        assert!(seen >= 1, "messages were seen in flight");
    }
}
