//! The workload's bot behaviour ("Bot behaviour" in `arena-workload.md`):
//! the input stream one simulated player sends, one input per tick, seeded
//! per bot so that a swarm's load is reproducible.
//!
//! This module owns [`ArenaBot`] and its settings, [`BotConfig`]. It is
//! pure: the bot client and the in-process load generators drive it.

use std::f32::consts::TAU;

use glam::Vec2;

use super::ArenaInput;
use crate::game::GameError;
use crate::rng::SimRng;
use crate::tick::TickRate;

/// The bot behaviour's parameters, with the workload's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BotConfig {
    /// Shortest action, seconds.
    pub action_min: f32,
    /// Longest action, seconds.
    pub action_max: f32,
    /// Probability that a new action is standing still (else moving along a
    /// random unit direction), in `[0, 1]`.
    pub stand_still_probability: f64,
    /// Probability of holding fire on each tick, in `[0, 1]`.
    pub fire_probability: f64,
    /// The rate the bot sends inputs at (the room's tick rate), used to turn
    /// action durations into ticks.
    pub tick_rate: TickRate,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            action_min: 0.5,
            action_max: 2.0,
            stand_still_probability: 0.25,
            fire_probability: 0.05,
            tick_rate: TickRate::ARENA,
        }
    }
}

impl BotConfig {
    /// Checks the settings: durations finite, positive and ordered,
    /// probabilities in `[0, 1]`. (A bot with unchecked settings still runs:
    /// a bad duration becomes one tick, probabilities are clamped.)
    pub fn validate(&self) -> Result<(), GameError> {
        let bad = |key: &str, reason: String| GameError::BadOption {
            key: key.to_owned(),
            reason,
        };
        for (key, value) in [
            ("action_min", self.action_min),
            ("action_max", self.action_max),
        ] {
            if !value.is_finite() || value <= 0.0 {
                return Err(bad(
                    key,
                    format!("must be a positive number of seconds, got {value}"),
                ));
            }
        }
        if self.action_max < self.action_min {
            return Err(bad("action_max", "must not be below action_min".to_owned()));
        }
        for (key, value) in [
            ("stand_still_probability", self.stand_still_probability),
            ("fire_probability", self.fire_probability),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(bad(
                    key,
                    format!("must be a probability in [0, 1], got {value}"),
                ));
            }
        }
        Ok(())
    }
}

/// One bot: call [`ArenaBot::next_input`] once per tick.
///
/// Every action (the first on the first call, the next when one runs out)
/// draws, in this order from the bot's own stream: its duration, uniform in
/// `[action_min, action_max]` seconds rounded to ticks (at least one);
/// whether it stands still; if not, a direction angle uniform in `[0, 2π)`;
/// an aim angle uniform in `[0, 2π)`. Then every tick draws the fire flag.
#[derive(Clone, Debug)]
pub struct ArenaBot {
    config: BotConfig,
    rng: SimRng,
    /// Ticks the current action still runs, this one included.
    action_ticks_left: u32,
    /// The current action's move and aim.
    action: ArenaInput,
}

impl ArenaBot {
    /// Bot number `bot_index` of a swarm seeded with `seed`; it draws from
    /// stream `1 + bot_index` of [`SimRng`] (stream 0 is the world's).
    pub fn new(config: BotConfig, seed: u64, bot_index: u64) -> Self {
        Self {
            config,
            rng: SimRng::new(seed, bot_index.saturating_add(1)),
            action_ticks_left: 0,
            action: ArenaInput::default(),
        }
    }

    /// The input for the next tick.
    pub fn next_input(&mut self) -> ArenaInput {
        if self.action_ticks_left == 0 {
            self.new_action();
        }
        self.action_ticks_left = self.action_ticks_left.saturating_sub(1);
        let fire = self.rng.chance(self.config.fire_probability);
        ArenaInput {
            fire,
            ..self.action
        }
    }

    /// Draws the next action (see the type docs for the order).
    fn new_action(&mut self) {
        let c = &self.config;
        // `SimRng::range_f32` needs finite bounds; unchecked settings that
        // lack them give one-tick actions.
        let (low, high) = if c.action_min.is_finite() && c.action_max.is_finite() {
            (c.action_min, c.action_max)
        } else {
            (0.0, 0.0)
        };
        let seconds = self.rng.range_f32(low, high);
        self.action_ticks_left = c.tick_rate.ticks_in(seconds).max(1);
        let moved = if self.rng.chance(c.stand_still_probability) {
            Vec2::ZERO
        } else {
            Vec2::from_angle(self.rng.range_f32(0.0, TAU))
        };
        let aim = self.rng.range_f32(0.0, TAU);
        self.action = ArenaInput {
            move_x: moved.x,
            move_y: moved.y,
            aim,
            fire: false,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::normalise_input;
    use super::*;

    fn inputs(seed: u64, index: u64, ticks: usize) -> Vec<ArenaInput> {
        let mut bot = ArenaBot::new(BotConfig::default(), seed, index);
        (0..ticks).map(|_| bot.next_input()).collect()
    }

    #[test]
    fn same_seed_and_index_same_inputs() {
        assert_eq!(inputs(1, 3, 2000), inputs(1, 3, 2000));
        assert_ne!(inputs(1, 3, 2000), inputs(1, 4, 2000));
        assert_ne!(inputs(1, 3, 2000), inputs(2, 3, 2000));
    }

    #[test]
    fn fires_on_about_one_tick_in_twenty() {
        let fired = inputs(1, 0, 30_000).iter().filter(|i| i.fire).count();
        let rate = fired as f64 / 30_000.0;
        assert!((0.04..=0.06).contains(&rate), "fire rate {rate}");
    }

    #[test]
    fn stands_still_in_about_a_quarter_of_actions() {
        let mut bot = ArenaBot::new(BotConfig::default(), 1, 0);
        let actions = 4000;
        let still = (0..actions)
            .filter(|_| {
                bot.new_action();
                bot.action.move_x == 0.0 && bot.action.move_y == 0.0
            })
            .count();
        let share = still as f64 / f64::from(actions);
        assert!((0.2..=0.3).contains(&share), "stand-still share {share}");
    }

    #[test]
    fn moves_are_unit_or_zero_and_actions_last_half_a_second_to_two() {
        let all = inputs(9, 2, 20_000);
        for input in &all {
            let m = Vec2::new(input.move_x, input.move_y);
            assert!(m.is_finite() && input.aim.is_finite());
            assert!(m == Vec2::ZERO || (m.length() - 1.0).abs() < 1e-5, "{m}");
            assert!((0.0..TAU).contains(&input.aim));
            assert_eq!(normalise_input(*input), Ok(*input), "valid as sent");
        }
        // Each action is a run of equal (move, aim); the last may be cut.
        let mut runs = Vec::new();
        let mut length = 1;
        for pair in all.windows(2) {
            let same = |a: &ArenaInput, b: &ArenaInput| {
                (a.move_x, a.move_y, a.aim) == (b.move_x, b.move_y, b.aim)
            };
            if same(&pair[0], &pair[1]) {
                length += 1;
            } else {
                runs.push(length);
                length = 1;
            }
        }
        assert!(runs.len() > 300, "{} actions", runs.len());
        assert!(runs.iter().all(|r| (15..=60).contains(r)), "{runs:?}");
        let mean = f64::from(runs.iter().sum::<u32>()) / runs.len() as f64;
        assert!((33.0..=42.0).contains(&mean), "mean action {mean} ticks");
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(BotConfig::default().validate(), Ok(()));
        let base = BotConfig::default();
        for bad in [
            BotConfig {
                action_min: 0.0,
                ..base
            },
            BotConfig {
                action_max: f32::NAN,
                ..base
            },
            BotConfig {
                action_min: 3.0,
                ..base
            },
            BotConfig {
                fire_probability: 1.5,
                ..base
            },
            BotConfig {
                stand_still_probability: f64::NAN,
                ..base
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        // Unchecked settings still give a running bot.
        for odd in [
            BotConfig {
                action_min: f32::NAN,
                ..base
            },
            BotConfig {
                action_max: f32::INFINITY,
                ..base
            },
            BotConfig {
                action_min: 5.0,
                action_max: 1.0,
                ..base
            },
            BotConfig {
                fire_probability: -1.0,
                stand_still_probability: 7.0,
                ..base
            },
        ] {
            let mut bot = ArenaBot::new(odd, 1, 0);
            assert!(
                (0..100).all(|_| bot.next_input().aim.is_finite()),
                "{odd:?}"
            );
        }
    }
}
