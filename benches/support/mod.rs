//! The seeded arena run the benchmarks share: a room of bots playing the
//! arena workload, one snapshot per tick.

use tickwire_shared::arena::{Arena, ArenaBot, ArenaConfig, ArenaInput, BotConfig};
use tickwire_shared::game::{Game, GameOptions, PlayerInput};
use tickwire_shared::ids::PlayerId;
use tickwire_shared::snapshot::WorldSnapshot;
use tickwire_shared::tick::Tick;

/// The workload seed.
pub(crate) const SEED: u64 = 1;

/// An arena with `players` bots, stepping one tick per call.
pub(crate) struct ArenaRun {
    pub(crate) game: Arena,
    bots: Vec<ArenaBot>,
    inputs: Vec<PlayerInput<ArenaInput>>,
    tick: Tick,
}

impl ArenaRun {
    pub(crate) fn new(players: u32) -> Self {
        let mut game = Arena::new(&ArenaConfig::default(), &GameOptions::default(), SEED)
            .expect("defaults are valid");
        let mut bots = Vec::new();
        let mut inputs = Vec::new();
        for p in 0..players {
            game.join(PlayerId(p)).expect("seat");
            bots.push(ArenaBot::new(BotConfig::default(), SEED, u64::from(p)));
            inputs.push(PlayerInput {
                player: PlayerId(p),
                input: ArenaInput::default(),
            });
        }
        Self {
            game,
            bots,
            inputs,
            tick: Tick(0),
        }
    }

    /// Gathers one input per bot and steps the game once.
    pub(crate) fn step(&mut self) {
        for (slot, bot) in self.inputs.iter_mut().zip(&mut self.bots) {
            slot.input = self
                .game
                .validate_input(bot.next_input())
                .expect("bots send valid input");
        }
        self.game.step(&self.inputs);
        self.tick = self.tick.next();
    }

    /// The world after the last step, written into `out`.
    pub(crate) fn snapshot_into(&self, out: &mut WorldSnapshot) {
        out.clear(self.tick);
        self.game.snapshot(out);
        out.finish().expect("arena ids are unique");
    }

    /// Steps `ticks` times and returns every snapshot.
    pub(crate) fn record(&mut self, ticks: u32) -> Vec<WorldSnapshot> {
        (0..ticks)
            .map(|_| {
                self.step();
                let mut world = WorldSnapshot::default();
                self.snapshot_into(&mut world);
                world
            })
            .collect()
    }
}
