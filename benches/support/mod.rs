//! The seeded arena run the benchmarks share: a room of bots playing the
//! arena workload, one snapshot per tick; and the update encoding every
//! benchmark measures the same way.

#![allow(dead_code)] // each bench uses a different subset

use tickwire_shared::arena::{Arena, ArenaBot, ArenaConfig, ArenaInput, BotConfig, SCHEMA};
use tickwire_shared::codec;
use tickwire_shared::delta::DeltaEncoder;
use tickwire_shared::game::{
    EventLimits, Game, GameOptions, PlayerInput, RoomActions, RoomContext,
};
use tickwire_shared::ids::PlayerId;
use tickwire_shared::snapshot::WorldSnapshot;
use tickwire_shared::tick::Tick;

/// The workload seed.
pub(crate) const SEED: u64 = 1;

/// The tick lateness written in every benchmark header: 1 ms takes two
/// LEB128 bytes, like any lateness from 128 us to 16 ms.
pub(crate) const LATENESS_US: u32 = 1_000;

/// Encodes the whole update frame a client gets (header, checksum, delta
/// against `baseline`) into `buf`, replacing its contents.
pub(crate) fn encode_update(
    encoder: &mut DeltaEncoder,
    baseline: Option<&WorldSnapshot>,
    current: &WorldSnapshot,
    buf: &mut Vec<u8>,
) {
    buf.clear();
    codec::encode_update_header(
        current.tick,
        baseline.map(|b| b.tick),
        LATENESS_US,
        current.checksum(),
        buf,
    )
    .expect("header");
    encoder
        .encode(&SCHEMA, baseline, current, buf)
        .expect("delta");
}

/// An arena with `players` bots, stepping one tick per call.
pub(crate) struct ArenaRun {
    pub(crate) game: Arena,
    bots: Vec<ArenaBot>,
    inputs: Vec<PlayerInput<ArenaInput>>,
    tick: Tick,
    /// What the game asks of its room (the arena asks nothing per tick).
    actions: RoomActions,
}

impl ArenaRun {
    pub(crate) fn new(players: u32) -> Self {
        let mut game = Arena::new(&ArenaConfig::default(), &GameOptions::default(), SEED)
            .expect("defaults are valid");
        let mut bots = Vec::new();
        let mut inputs = Vec::new();
        for p in 0..players {
            game.seat(PlayerId(p)).expect("seat");
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
            actions: RoomActions::new(EventLimits::default()),
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
        let rate = self.game.tick_rate();
        let mut ctx = RoomContext::new(self.tick, rate, &mut self.actions);
        self.game.step(&mut ctx, &self.inputs);
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
