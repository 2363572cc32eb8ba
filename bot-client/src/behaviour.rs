//! What a bot does once it is in a room: nothing (idle), the arena
//! workload's input pattern, or, in chaos runs, one kind of misbehaviour
//! ([`misbehave`]) or the arena with a drop and a resume every few
//! seconds. Which bots misbehave is drawn from the run's seed, so a
//! run is repeatable.

pub mod misbehave;

use serde::{Deserialize, Serialize};
use tickwire_shared::rng::SimRng;

pub use misbehave::Misbehaviour;

/// The behaviour a run asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BehaviourKind {
    /// Join, acknowledge updates, send no inputs.
    Idle,
    /// The arena workload: one input per tick from the seeded bot.
    Arena,
    /// Arena bots, a share of which misbehave (see [`ChaosMix`]).
    Chaos,
}

impl BehaviourKind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Arena => "arena",
            Self::Chaos => "chaos",
        }
    }
}

/// The share of bots doing each misbehaviour in a chaos run (each in
/// `0..=1`, summing to at most 1; the rest play the arena normally).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct ChaosMix {
    /// Share sending malformed frames (then reconnecting).
    #[arg(long = "chaos-malformed", default_value_t = 0.1)]
    pub malformed: f64,
    /// Share sending frames over the server's size limit (then reconnecting).
    #[arg(long = "chaos-oversize", default_value_t = 0.1)]
    pub oversize: f64,
    /// Share flooding inputs at ten times the tick rate.
    #[arg(long = "chaos-flood", default_value_t = 0.1)]
    pub flood: f64,
    /// Share dropping their connection abruptly and reconnecting.
    #[arg(long = "chaos-disconnect", default_value_t = 0.1)]
    pub disconnect: f64,
    /// Share that stop reading after joining.
    #[arg(long = "chaos-slow", default_value_t = 0.1)]
    pub slow: f64,
    /// Share that play the arena and cut their connection every few
    /// seconds, letting the client library reconnect and resume the seat.
    #[arg(long = "chaos-resume", default_value_t = 0.1)]
    pub resume: f64,
}

impl Default for ChaosMix {
    fn default() -> Self {
        Self {
            malformed: 0.1,
            oversize: 0.1,
            flood: 0.1,
            disconnect: 0.1,
            slow: 0.1,
            resume: 0.1,
        }
    }
}

impl ChaosMix {
    /// Checks the shares.
    pub fn validate(&self) -> Result<(), String> {
        let shares = [
            self.malformed,
            self.oversize,
            self.flood,
            self.disconnect,
            self.slow,
            self.resume,
        ];
        if shares.iter().any(|s| !(0.0..=1.0).contains(s)) {
            return Err("chaos shares must be in 0..=1".into());
        }
        if shares.iter().sum::<f64>() > 1.0 + 1e-9 {
            return Err("chaos shares must sum to at most 1".into());
        }
        Ok(())
    }

    /// The chaos behaviour of bot `index` (`Arena`: it plays normally),
    /// drawn from the seed.
    pub fn pick(&self, seed: u64, index: u64) -> Behaviour {
        let draw = SimRng::new(seed, 1 << 40 | index).range_f32(0.0, 1.0) as f64;
        let shares = [
            (
                self.malformed,
                Behaviour::Misbehave(Misbehaviour::Malformed),
            ),
            (self.oversize, Behaviour::Misbehave(Misbehaviour::Oversize)),
            (self.flood, Behaviour::Misbehave(Misbehaviour::Flood)),
            (
                self.disconnect,
                Behaviour::Misbehave(Misbehaviour::Disconnect),
            ),
            (self.slow, Behaviour::Misbehave(Misbehaviour::SlowReader)),
            (self.resume, Behaviour::Resume),
        ];
        let mut edge = 0.0;
        for (share, behaviour) in shares {
            edge += share;
            if draw < edge {
                return behaviour;
            }
        }
        Behaviour::Arena
    }
}

/// What one bot does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// No inputs.
    Idle,
    /// Arena inputs.
    Arena,
    /// A misbehaviour.
    Misbehave(Misbehaviour),
    /// Arena inputs, cutting the connection every few seconds and resuming
    /// (chaos runs).
    Resume,
}

impl Behaviour {
    /// The behaviour of bot `index` in a run of `kind`.
    pub fn for_bot(kind: BehaviourKind, mix: &ChaosMix, seed: u64, index: u64) -> Self {
        match kind {
            BehaviourKind::Idle => Self::Idle,
            BehaviourKind::Arena => Self::Arena,
            BehaviourKind::Chaos => mix.pick(seed, index),
        }
    }

    /// Whether the bot plays undisturbed: its figures are the run's
    /// steady state. Misbehaving and resuming bots are reported apart.
    pub fn is_well_behaved(self) -> bool {
        matches!(self, Self::Idle | Self::Arena)
    }

    /// Whether the bot sends the arena's inputs.
    pub fn plays_arena(self) -> bool {
        matches!(self, Self::Arena | Self::Resume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaos_shares_are_respected_and_repeatable() {
        let mix = ChaosMix::default();
        let picks: Vec<_> = (0..2_000).map(|i| mix.pick(7, i)).collect();
        let again: Vec<_> = (0..2_000).map(|i| mix.pick(7, i)).collect();
        assert_eq!(picks, again);
        let normal = picks.iter().filter(|p| **p == Behaviour::Arena).count();
        assert!(
            (600..1000).contains(&normal),
            "about 40 % play normally: {normal}"
        );
        for kind in [
            Behaviour::Misbehave(Misbehaviour::Malformed),
            Behaviour::Misbehave(Misbehaviour::SlowReader),
            Behaviour::Resume,
        ] {
            let n = picks.iter().filter(|p| **p == kind).count();
            assert!((120..280).contains(&n), "{kind:?}: {n}");
        }
    }

    #[test]
    fn invalid_mixes_are_refused() {
        assert!(
            ChaosMix {
                malformed: 0.9,
                oversize: 0.9,
                ..ChaosMix::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            ChaosMix {
                slow: -0.1,
                ..ChaosMix::default()
            }
            .validate()
            .is_err()
        );
        assert!(ChaosMix::default().validate().is_ok());
    }
}
