//! The reference game and benchmark workload, "arena" (spec:
//! `arena-workload.md`): players move, aim and shoot in a walled 2D box.
//!
//! This module owns the game's public face: [`Arena`] (the [`Game`]
//! implementation), its input ([`ArenaInput`]), its settings
//! ([`ArenaConfig`]), its replication [`SCHEMA`] with the field indices
//! ([`player_field`], [`projectile_field`]), and read-only float views of the
//! world ([`PlayerView`], [`ProjectileView`], [`Hit`]). The five per-tick
//! rules live in `rules` (private); the workload's bot behaviour is in
//! [`bot`].
//!
//! # State on the wire grid
//!
//! The simulation state is kept as the same fixed-point integers that are
//! replicated, so a client that applies every update holds exactly the
//! server's world (checksums agree), and the schema's extrapolation
//! ([`Schema::extrapolate_entity`]) predicts the next tick exactly whenever
//! nothing unpredictable (a new input, a hit, a respawn, a shot) happened.
//! Floats are used only to turn an input into a per-tick displacement and an
//! aim angle into a projectile's direction; both are quantized immediately.
//!
//! | quantity | wire unit | precision |
//! | --- | --- | --- |
//! | position x, y | 1/[`POSITION_SCALE`] unit (64 steps per unit) | 0.016 units |
//! | velocity vx, vy | displacement per tick in 1/64-unit steps | 0.47 units/s at 30 Hz |
//! | aim | 1/[`ANGLE_STEPS`] of a turn (4096 steps), in `0..4096` | 0.088° |
//! | hp, score, ticks left | plain integers | exact |
//! | player, owner | [`PlayerId`]`.0` bit-cast to `i32` | exact |
//!
//! Positions run from 0 to `width * 64` (`height * 64`) inclusive, origin at
//! the lower-left corner. A player's velocity field is the displacement its
//! current input asks for, kept while it is pressed against a wall (the
//! schema's [`Boundary::Clamp`] rule does the same). At the defaults a
//! player moves 427 steps per tick (200.2 units/s) and a projectile 1280
//! steps per tick (600 units/s).
//!
//! # Events
//!
//! The arena takes one event, [`ECHO_EVENT`] (`"echo"`): it answers with
//! the data it was sent, so a bot swarm can put event load on a server and
//! measure answer latency. Any other event is refused (answered with an
//! error when the sender asked for an answer); nothing is relayed.
//!
//! The world is deterministic for a seed, options and input sequence. The
//! projectile direction uses `f32` sine and cosine from the platform's math
//! library, so the *simulation* is reproducible on one platform; clients
//! never simulate, they receive the quantized result, so they agree
//! everywhere.

pub mod bot;
mod rules;

pub use bot::{ArenaBot, BotConfig};

use glam::{IVec2, Vec2};
use serde::{Deserialize, Serialize};

use crate::delta::quantize::{angle_from_fixed, from_fixed, to_fixed};
use crate::game::{
    Event, Game, GameError, GameOptions, JoinRequest, LeaveCause, PlayerInput, RoomContext,
};
use crate::ids::{EntityId, PlayerId};
use crate::protocol::Role;
use crate::rng::SimRng;
use crate::schema::{Boundary, FieldSchema, KindSchema, LinearMotion, Schema};
use crate::snapshot::{EntityKind, EntityState, WorldSnapshot};
use crate::tick::TickRate;

/// The event the arena answers with its own data (see the module doc).
pub const ECHO_EVENT: &str = "echo";

/// Fixed-point steps per world unit for positions and velocities
/// (1/64 unit ≈ 0.016 units).
pub const POSITION_SCALE: f32 = 64.0;

/// Steps per full turn for the aim angle (1/4096 turn ≈ 0.088°).
pub const ANGLE_STEPS: u32 = 4096;

/// The entity kind of a player avatar (index 0 of [`SCHEMA`]).
pub const PLAYER: EntityKind = EntityKind(0);

/// The entity kind of a projectile (index 1 of [`SCHEMA`]).
pub const PROJECTILE: EntityKind = EntityKind(1);

/// The random stream of [`SimRng`] the world (spawn positions) draws from;
/// bot `i` uses stream `1 + i`.
pub const WORLD_STREAM: u64 = 0;

pub mod player_field {
    //! Field indices of a [`PLAYER`](super::PLAYER) entity, in wire order.

    /// x position, 1/64 units.
    pub const X: usize = 0;
    /// y position, 1/64 units.
    pub const Y: usize = 1;
    /// x displacement per tick, 1/64 units.
    pub const VX: usize = 2;
    /// y displacement per tick, 1/64 units.
    pub const VY: usize = 3;
    /// Aim angle in 1/4096 turns, `0..4096`, counter-clockwise from +x.
    pub const AIM: usize = 4;
    /// Hit points, `1..=max_hp` between ticks.
    pub const HP: usize = 5;
    /// Kills scored.
    pub const SCORE: usize = 6;
    /// The owning player's `PlayerId.0`, bit-cast to `i32`.
    pub const PLAYER: usize = 7;
}

pub mod projectile_field {
    //! Field indices of a [`PROJECTILE`](super::PROJECTILE) entity, in wire
    //! order.

    /// x position, 1/64 units.
    pub const X: usize = 0;
    /// y position, 1/64 units.
    pub const Y: usize = 1;
    /// x displacement per tick, 1/64 units.
    pub const VX: usize = 2;
    /// y displacement per tick, 1/64 units.
    pub const VY: usize = 3;
    /// The shooter's `PlayerId.0`, bit-cast to `i32`.
    pub const OWNER: usize = 4;
    /// Ticks left to live; the projectile despawns when it reaches 0.
    pub const TICKS_LEFT: usize = 5;
}

const fn field(name: &'static str, absolute_order: u8, change_order: u8) -> FieldSchema {
    FieldSchema {
        name,
        absolute_order,
        change_order,
    }
}

/// The default arena's upper corner in fixed point (1000 × 1000 units).
const DEFAULT_MAX: [i32; 2] = [
    (1000.0 * POSITION_SCALE) as i32,
    (1000.0 * POSITION_SCALE) as i32,
];

/// The arena's replication schema: kind 0 [`PLAYER`], kind 1
/// [`PROJECTILE`], fields as in [`player_field`] and [`projectile_field`].
///
/// Both kinds move linearly inside the *default* 1000 × 1000 arena (players
/// clamp at the walls, projectiles despawn on leaving it; projectiles also
/// count down [`projectile_field::TICKS_LEFT`]). A schema is a constant, but
/// the arena size is a room option: in a room with another size the
/// extrapolation is simply less exact near the default walls, so deltas for
/// that room stay correct and are only a little larger there.
pub const SCHEMA: Schema = Schema {
    kinds: &[
        KindSchema {
            name: "player",
            fields: &[
                field("x", 15, 8),
                field("y", 15, 8),
                field("vx", 9, 9),
                field("vy", 9, 9),
                field("aim", 11, 12),
                field("hp", 6, 4),
                field("score", 0, 0),
                field("player", 4, 0),
            ],
            motion: Some(LinearMotion {
                position: [player_field::X, player_field::Y],
                velocity: [player_field::VX, player_field::VY],
                min: [0, 0],
                max: DEFAULT_MAX,
                boundary: Boundary::Clamp,
            }),
            lifetime: None,
        },
        KindSchema {
            name: "projectile",
            fields: &[
                field("x", 15, 8),
                field("y", 15, 8),
                field("vx", 10, 8),
                field("vy", 10, 8),
                field("owner", 4, 0),
                field("ticks_left", 4, 2),
            ],
            motion: Some(LinearMotion {
                position: [projectile_field::X, projectile_field::Y],
                velocity: [projectile_field::VX, projectile_field::VY],
                min: [0, 0],
                max: DEFAULT_MAX,
                boundary: Boundary::Despawn,
            }),
            lifetime: Some(projectile_field::TICKS_LEFT),
        },
    ],
};

/// One player's input for one tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArenaInput {
    /// Move direction x, in `[-1, 1]` (the vector is normalised when longer
    /// than 1).
    pub move_x: f32,
    /// Move direction y, in `[-1, 1]`.
    pub move_y: f32,
    /// Aim angle in radians, counter-clockwise from +x (any finite value;
    /// it wraps).
    pub aim: f32,
    /// Fire along the aim, if the cooldown allows.
    pub fire: bool,
}

/// Every parameter of the workload, with its defaults. Room options override
/// them by field name ([`ArenaConfig::with_options`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArenaConfig {
    /// Arena width in units (x runs `0..=width`).
    pub width: f32,
    /// Arena height in units (y runs `0..=height`).
    pub height: f32,
    /// Simulation rate (option value: an integer in Hz).
    pub tick_rate: TickRate,
    /// Player speed at full stick, units per second.
    pub player_speed: f32,
    /// Projectile speed, units per second.
    pub projectile_speed: f32,
    /// Projectile lifetime, seconds (rounded to whole ticks).
    pub projectile_lifetime: f32,
    /// Least time between two shots of one player, seconds (rounded to whole
    /// ticks).
    pub fire_cooldown: f32,
    /// Distance at which a projectile hits a player, units.
    pub hit_radius: f32,
    /// Hit points a hit takes, hp.
    pub hit_damage: u32,
    /// Hit points at (re)spawn, hp.
    pub max_hp: u32,
}

impl Default for ArenaConfig {
    fn default() -> Self {
        Self {
            width: 1000.0,
            height: 1000.0,
            tick_rate: TickRate::ARENA,
            player_speed: 200.0,
            projectile_speed: 600.0,
            projectile_lifetime: 1.0,
            fire_cooldown: 0.5,
            hit_radius: 16.0,
            hit_damage: 10,
            max_hp: 100,
        }
    }
}

/// Largest fixed-point value a length may take, so that a position plus a
/// displacement never overflows an `i32`.
const MAX_FIXED: f64 = (i32::MAX / 2) as f64;

fn bad_option(key: &str, reason: impl Into<String>) -> GameError {
    GameError::BadOption {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// A length in units that must be positive, finite and small enough in
/// fixed point.
fn check_length(key: &str, value: f32) -> Result<(), GameError> {
    if !value.is_finite() || value <= 0.0 {
        return Err(bad_option(
            key,
            format!("must be a positive number, got {value}"),
        ));
    }
    if f64::from(value) * f64::from(POSITION_SCALE) > MAX_FIXED {
        return Err(bad_option(key, format!("{value} is too large")));
    }
    Ok(())
}

/// A duration in seconds that must be positive and finite.
fn check_seconds(key: &str, value: f32) -> Result<(), GameError> {
    if !value.is_finite() || value <= 0.0 {
        return Err(bad_option(
            key,
            format!("must be a positive number of seconds, got {value}"),
        ));
    }
    Ok(())
}

/// A whole number of hp that must be in `1..=i32::MAX`.
fn check_hp(key: &str, value: u32) -> Result<(), GameError> {
    if value == 0 || i32::try_from(value).is_err() {
        return Err(bad_option(
            key,
            format!("must be in 1..={}, got {value}", i32::MAX),
        ));
    }
    Ok(())
}

fn override_value<T: std::str::FromStr>(
    options: &GameOptions,
    key: &'static str,
    slot: &mut T,
) -> Result<(), GameError> {
    if let Some(value) = options.parse(key)? {
        *slot = value;
    }
    Ok(())
}

impl ArenaConfig {
    /// The option keys [`ArenaConfig::with_options`] accepts: the field
    /// names.
    pub const OPTION_KEYS: &'static [&'static str] = &[
        "width",
        "height",
        "tick_rate",
        "player_speed",
        "projectile_speed",
        "projectile_lifetime",
        "fire_cooldown",
        "hit_radius",
        "hit_damage",
        "max_hp",
    ];

    /// This config with `options` applied (keys are the field names,
    /// `tick_rate` an integer in Hz), then checked with
    /// [`ArenaConfig::validate`]. Unknown keys, unparsable values and values
    /// out of range are [`GameError::BadOption`].
    pub fn with_options(&self, options: &GameOptions) -> Result<Self, GameError> {
        options.reject_unknown(Self::OPTION_KEYS)?;
        let mut config = *self;
        override_value(options, "width", &mut config.width)?;
        override_value(options, "height", &mut config.height)?;
        if let Some(hz) = options.parse::<u16>("tick_rate")? {
            config.tick_rate = TickRate::new(hz).ok_or_else(|| {
                bad_option(
                    "tick_rate",
                    format!("must be 1..={} Hz, got {hz}", TickRate::MAX_HZ),
                )
            })?;
        }
        override_value(options, "player_speed", &mut config.player_speed)?;
        override_value(options, "projectile_speed", &mut config.projectile_speed)?;
        override_value(
            options,
            "projectile_lifetime",
            &mut config.projectile_lifetime,
        )?;
        override_value(options, "fire_cooldown", &mut config.fire_cooldown)?;
        override_value(options, "hit_radius", &mut config.hit_radius)?;
        override_value(options, "hit_damage", &mut config.hit_damage)?;
        override_value(options, "max_hp", &mut config.max_hp)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field: lengths and speeds positive, finite and at most
    /// `i32::MAX / 2` in fixed point; durations positive and finite (the
    /// lifetime at most `i32::MAX` ticks); hp values in `1..=i32::MAX`.
    pub fn validate(&self) -> Result<(), GameError> {
        check_length("width", self.width)?;
        check_length("height", self.height)?;
        check_length("player_speed", self.player_speed)?;
        check_length("projectile_speed", self.projectile_speed)?;
        check_seconds("projectile_lifetime", self.projectile_lifetime)?;
        if i32::try_from(self.tick_rate.ticks_in(self.projectile_lifetime)).is_err() {
            return Err(bad_option("projectile_lifetime", "too many ticks"));
        }
        check_seconds("fire_cooldown", self.fire_cooldown)?;
        check_length("hit_radius", self.hit_radius)?;
        check_hp("hit_damage", self.hit_damage)?;
        check_hp("max_hp", self.max_hp)?;
        Ok(())
    }
}

/// The config turned into the fixed-point quantities the rules use.
#[derive(Clone, Copy, Debug)]
struct Params {
    /// Upper corner of the arena, 1/64 units.
    max: IVec2,
    /// Player displacement per tick at full stick, units.
    player_step: f32,
    /// Projectile displacement per tick, units.
    projectile_step: f32,
    /// Ticks a projectile lives.
    lifetime_ticks: i32,
    /// Ticks between two shots of a player.
    cooldown_ticks: u64,
    /// Hit radius squared, (1/64 units)².
    hit_radius_sq: i64,
    /// hp a hit takes.
    hit_damage: i32,
    /// hp at spawn.
    max_hp: i32,
}

impl Params {
    /// The rule quantities for a validated config.
    fn new(config: &ArenaConfig) -> Self {
        let rate = config.tick_rate;
        let dt = rate.dt();
        let radius = i64::from(to_fixed(config.hit_radius, POSITION_SCALE));
        Self {
            max: IVec2::new(
                to_fixed(config.width, POSITION_SCALE),
                to_fixed(config.height, POSITION_SCALE),
            ),
            player_step: config.player_speed * dt,
            projectile_step: config.projectile_speed * dt,
            lifetime_ticks: i32::try_from(rate.ticks_in(config.projectile_lifetime))
                .unwrap_or(i32::MAX),
            cooldown_ticks: u64::from(rate.ticks_in(config.fire_cooldown)),
            hit_radius_sq: radius * radius,
            hit_damage: i32::try_from(config.hit_damage).unwrap_or(i32::MAX),
            max_hp: i32::try_from(config.max_hp).unwrap_or(i32::MAX),
        }
    }
}

/// A seated player's avatar, on the wire grid.
#[derive(Clone, Debug)]
struct Avatar {
    player: PlayerId,
    entity: EntityId,
    /// 1/64 units.
    pos: IVec2,
    /// Displacement per tick, 1/64 units.
    vel: IVec2,
    /// 1/4096 turns.
    aim: i32,
    hp: i32,
    score: i32,
    /// The last input applied.
    input: ArenaInput,
    /// The tick of the last shot.
    last_shot: Option<u64>,
}

impl Avatar {
    fn state(&self) -> EntityState {
        EntityState::new(
            self.entity,
            PLAYER,
            &[
                self.pos.x,
                self.pos.y,
                self.vel.x,
                self.vel.y,
                self.aim,
                self.hp,
                self.score,
                self.player.0.cast_signed(),
            ],
        )
    }
}

/// A projectile in flight, on the wire grid.
#[derive(Clone, Copy, Debug)]
struct Projectile {
    entity: EntityId,
    owner: PlayerId,
    /// 1/64 units.
    pos: IVec2,
    /// Displacement per tick, 1/64 units.
    vel: IVec2,
    ticks_left: i32,
}

impl Projectile {
    fn state(&self) -> EntityState {
        EntityState::new(
            self.entity,
            PROJECTILE,
            &[
                self.pos.x,
                self.pos.y,
                self.vel.x,
                self.vel.y,
                self.owner.0.cast_signed(),
                self.ticks_left,
            ],
        )
    }
}

/// A projectile hitting a player, as it happened in the last step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The projectile, now despawned.
    pub projectile: EntityId,
    /// Who fired it (possibly no longer seated).
    pub shooter: PlayerId,
    /// Who was hit.
    pub target: PlayerId,
    /// Whether the hit took the target's last hp, so that it respawned.
    pub respawned: bool,
}

/// The mutable world the rules act on.
#[derive(Clone, Debug)]
struct World {
    /// Sorted by player id.
    avatars: Vec<Avatar>,
    /// Sorted by entity id (ids only grow, so push order is id order).
    projectiles: Vec<Projectile>,
    /// Spawn and respawn positions.
    rng: SimRng,
    /// The next entity id to hand out; ids are never reused.
    next_entity: u32,
    /// Steps taken so far.
    tick: u64,
    /// Hits in the last step (cleared at the start of each step).
    hits: Vec<Hit>,
}

impl World {
    fn avatar_index(&self, player: PlayerId) -> Result<usize, usize> {
        self.avatars.binary_search_by_key(&player, |a| a.player)
    }
}

/// Hands out the next entity id, or `None` once the `u32` range is used up.
fn allocate_entity(next: &mut u32) -> Option<EntityId> {
    let id = *next;
    *next = next.checked_add(1)?;
    Some(EntityId(id))
}

/// A grid point drawn uniformly from `[0, max.x] × [0, max.y]`.
fn random_position(rng: &mut SimRng, max: IVec2) -> IVec2 {
    let mut axis = |hi: i32| {
        let span = u64::from(hi.max(0).unsigned_abs()) + 1;
        // Below `span`, which is at most 2^31, so the cast is lossless.
        (rng.next_u64() % span) as i32
    };
    let x = axis(max.x);
    let y = axis(max.y);
    IVec2::new(x, y)
}

/// A fixed-point position in units.
fn position_to_units(pos: IVec2) -> Vec2 {
    Vec2::new(
        from_fixed(pos.x, POSITION_SCALE),
        from_fixed(pos.y, POSITION_SCALE),
    )
}

/// A per-tick fixed-point displacement in units per second.
fn velocity_to_units(vel: IVec2, rate: TickRate) -> Vec2 {
    position_to_units(vel) * f32::from(rate.hz())
}

/// A player avatar in world units, for game code and tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlayerView {
    /// The seated player.
    pub player: PlayerId,
    /// The avatar's entity.
    pub entity: EntityId,
    /// Position, units.
    pub position: Vec2,
    /// Velocity, units per second.
    pub velocity: Vec2,
    /// Aim, radians in `[0, 2π)`.
    pub aim: f32,
    /// Hit points.
    pub hp: u32,
    /// Kills scored.
    pub score: u32,
}

impl PlayerView {
    /// Reads a replicated [`PLAYER`] entity (as a client holds it) at the
    /// room's tick rate; `None` for another kind.
    pub fn from_entity(entity: &EntityState, rate: TickRate) -> Option<Self> {
        use player_field as f;
        if entity.kind != PLAYER {
            return None;
        }
        let v = &entity.fields;
        Some(Self {
            player: PlayerId(v[f::PLAYER].cast_unsigned()),
            entity: entity.id,
            position: position_to_units(IVec2::new(v[f::X], v[f::Y])),
            velocity: velocity_to_units(IVec2::new(v[f::VX], v[f::VY]), rate),
            aim: angle_from_fixed(v[f::AIM], ANGLE_STEPS),
            hp: u32::try_from(v[f::HP]).unwrap_or(0),
            score: u32::try_from(v[f::SCORE]).unwrap_or(0),
        })
    }
}

/// A projectile in world units, for game code and tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProjectileView {
    /// The projectile's entity.
    pub entity: EntityId,
    /// Who fired it.
    pub owner: PlayerId,
    /// Position, units.
    pub position: Vec2,
    /// Velocity, units per second.
    pub velocity: Vec2,
    /// Ticks until it despawns.
    pub ticks_left: u32,
}

impl ProjectileView {
    /// Reads a replicated [`PROJECTILE`] entity (as a client holds it) at
    /// the room's tick rate; `None` for another kind.
    pub fn from_entity(entity: &EntityState, rate: TickRate) -> Option<Self> {
        use projectile_field as f;
        if entity.kind != PROJECTILE {
            return None;
        }
        let v = &entity.fields;
        Some(Self {
            entity: entity.id,
            owner: PlayerId(v[f::OWNER].cast_unsigned()),
            position: position_to_units(IVec2::new(v[f::X], v[f::Y])),
            velocity: velocity_to_units(IVec2::new(v[f::VX], v[f::VY]), rate),
            ticks_left: u32::try_from(v[f::TICKS_LEFT]).unwrap_or(0),
        })
    }
}

/// The arena game: see the module docs for the state layout and
/// `arena-workload.md` for the rules.
#[derive(Clone, Debug)]
pub struct Arena {
    config: ArenaConfig,
    params: Params,
    world: World,
}

impl Arena {
    /// The settings this room runs with.
    pub fn config(&self) -> &ArenaConfig {
        &self.config
    }

    /// Steps taken so far.
    pub fn ticks(&self) -> u64 {
        self.world.tick
    }

    /// Every avatar, by player id.
    pub fn players(&self) -> impl Iterator<Item = PlayerView> + '_ {
        self.world.avatars.iter().map(|a| self.player_view(a))
    }

    /// The avatar of `player`, if seated.
    pub fn player(&self, player: PlayerId) -> Option<PlayerView> {
        let index = self.world.avatar_index(player).ok()?;
        self.world.avatars.get(index).map(|a| self.player_view(a))
    }

    /// Every projectile in flight, by entity id.
    pub fn projectiles(&self) -> impl Iterator<Item = ProjectileView> + '_ {
        let rate = self.config.tick_rate;
        self.world.projectiles.iter().map(move |p| ProjectileView {
            entity: p.entity,
            owner: p.owner,
            position: position_to_units(p.pos),
            velocity: velocity_to_units(p.vel, rate),
            ticks_left: u32::try_from(p.ticks_left).unwrap_or(0),
        })
    }

    /// The hits of the last step, in the order they were resolved.
    pub fn hits(&self) -> &[Hit] {
        &self.world.hits
    }

    fn player_view(&self, a: &Avatar) -> PlayerView {
        PlayerView {
            player: a.player,
            entity: a.entity,
            position: position_to_units(a.pos),
            velocity: velocity_to_units(a.vel, self.config.tick_rate),
            aim: angle_from_fixed(a.aim, ANGLE_STEPS),
            hp: u32::try_from(a.hp).unwrap_or(0),
            score: u32::try_from(a.score).unwrap_or(0),
        }
    }

    /// Seats `player`: a new avatar at a random position.
    pub fn seat(&mut self, player: PlayerId) -> Result<(), GameError> {
        let Err(slot) = self.world.avatar_index(player) else {
            return Err(GameError::JoinRefused("already seated".into()));
        };
        let Some(entity) = allocate_entity(&mut self.world.next_entity) else {
            return Err(GameError::JoinRefused("entity ids exhausted".into()));
        };
        let pos = random_position(&mut self.world.rng, self.params.max);
        self.world.avatars.insert(
            slot,
            Avatar {
                player,
                entity,
                pos,
                vel: IVec2::ZERO,
                aim: 0,
                hp: self.params.max_hp,
                score: 0,
                input: ArenaInput::default(),
                last_shot: None,
            },
        );
        Ok(())
    }

    /// Removes `player`'s avatar.
    pub fn unseat(&mut self, player: PlayerId) {
        if let Ok(index) = self.world.avatar_index(player) {
            self.world.avatars.remove(index);
        }
    }

    /// Advances one step with each seated player's latest input.
    pub fn advance(&mut self, inputs: &[PlayerInput<ArenaInput>]) {
        let world = &mut self.world;
        let params = &self.params;
        world.hits.clear();
        rules::apply_inputs(world, inputs);
        rules::move_players(world, params);
        rules::fire(world, params);
        rules::move_projectiles(world, params);
        rules::resolve_hits(world, params);
        world.tick += 1;
    }
}

impl Game for Arena {
    type Input = ArenaInput;
    type Config = ArenaConfig;

    const NAME: &'static str = "arena";
    const SCHEMA: Schema = SCHEMA;

    fn new(config: &ArenaConfig, options: &GameOptions, seed: u64) -> Result<Self, GameError> {
        let config = config.with_options(options)?;
        Ok(Self {
            params: Params::new(&config),
            config,
            world: World {
                avatars: Vec::new(),
                projectiles: Vec::new(),
                rng: SimRng::new(seed, WORLD_STREAM),
                next_entity: 1,
                tick: 0,
                hits: Vec::new(),
            },
        })
    }

    fn tick_rate(&self) -> TickRate {
        self.config.tick_rate
    }

    fn validate_input(&self, input: ArenaInput) -> Result<ArenaInput, GameError> {
        rules::normalise_input(input)
    }

    fn event(&mut self, ctx: &mut RoomContext<'_>, event: Event) {
        let Some(to) = event.answer else { return };
        if event.name == ECHO_EVENT {
            ctx.answer_bytes(to, event.data);
        } else {
            ctx.answer_error(to, format!("the arena takes only {ECHO_EVENT:?} events"));
        }
    }

    fn join(
        &mut self,
        _ctx: &mut RoomContext<'_>,
        request: &JoinRequest<'_>,
    ) -> Result<(), GameError> {
        match request.role {
            Role::Player => self.seat(request.player),
            Role::Spectator => Ok(()),
        }
    }

    fn leave(&mut self, _ctx: &mut RoomContext<'_>, player: PlayerId, role: Role, _: LeaveCause) {
        if role == Role::Player {
            self.unseat(player);
        }
    }

    fn step(&mut self, _ctx: &mut RoomContext<'_>, inputs: &[PlayerInput<ArenaInput>]) {
        self.advance(inputs);
    }

    fn snapshot(&self, out: &mut WorldSnapshot) {
        for avatar in &self.world.avatars {
            out.push(avatar.state());
        }
        for projectile in &self.world.projectiles {
            out.push(projectile.state());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tick::Tick;

    fn options(pairs: &[(&str, &str)]) -> GameOptions {
        GameOptions(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn snapshot_of(arena: &Arena, tick: u32, out: &mut WorldSnapshot) {
        out.clear(Tick(tick));
        arena.snapshot(out);
        assert_eq!(out.finish(), Ok(()), "duplicate entity id");
    }

    /// A room with `players` seated players driven by bots; calls `visit`
    /// after every step with the arena, the snapshot and the inputs used.
    fn run_bots(
        seed: u64,
        players: u32,
        ticks: u32,
        mut visit: impl FnMut(u32, &Arena, &WorldSnapshot, &[PlayerInput<ArenaInput>]),
    ) {
        let mut arena = Arena::new(&ArenaConfig::default(), &GameOptions::default(), seed)
            .expect("default arena");
        let mut bots: Vec<ArenaBot> = (0..u64::from(players))
            .map(|i| ArenaBot::new(BotConfig::default(), seed, i))
            .collect();
        for p in 1..=players {
            arena.seat(PlayerId(p)).expect("join");
        }
        let mut inputs = Vec::new();
        let mut snap = WorldSnapshot::default();
        for tick in 0..ticks {
            inputs.clear();
            for (p, bot) in (1..=players).zip(&mut bots) {
                let input = arena
                    .validate_input(bot.next_input())
                    .expect("bot input is valid");
                inputs.push(PlayerInput {
                    player: PlayerId(p),
                    input,
                });
            }
            arena.advance(&inputs);
            snapshot_of(&arena, tick, &mut snap);
            visit(tick, &arena, &snap, &inputs);
        }
    }

    fn record(seed: u64) -> Vec<(WorldSnapshot, u32)> {
        let mut out = Vec::new();
        run_bots(seed, 16, 900, |_, _, snap, _| {
            out.push((snap.clone(), snap.checksum()))
        });
        out
    }

    #[test]
    fn the_schema_is_valid() {
        assert_eq!(Arena::SCHEMA.validate(), Ok(()));
        assert_eq!(Arena::SCHEMA.kind(PLAYER).map(|k| k.name), Some("player"));
        assert_eq!(
            Arena::SCHEMA.kind(PROJECTILE).map(|k| k.name),
            Some("projectile")
        );
        assert_eq!(Arena::SCHEMA.kinds[0].fields.len(), 8);
        assert_eq!(Arena::SCHEMA.kinds[1].fields.len(), 6);
        assert_eq!(DEFAULT_MAX, [64_000, 64_000]);
        assert_eq!(Arena::NAME, "arena");
    }

    #[test]
    fn same_seed_same_world_and_another_seed_another() {
        let a = record(1);
        let b = record(1);
        assert_eq!(a.len(), 900);
        for (tick, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x.0, y.0, "snapshots differ at tick {tick}");
            assert_eq!(x.1, y.1, "checksums differ at tick {tick}");
        }
        let c = record(2);
        assert!(a.iter().zip(&c).all(|(x, z)| x.0 != z.0 && x.1 != z.1));
        // The run is not trivial: projectiles fly.
        assert!(
            a.iter()
                .any(|(s, _)| s.entities().iter().any(|e| e.kind == PROJECTILE))
        );
    }

    #[test]
    fn extrapolation_predicts_every_unperturbed_entity() {
        let mut prev: Option<(WorldSnapshot, Vec<PlayerInput<ArenaInput>>)> = None;
        let (mut flown, mut hits, mut expired, mut left_arena, mut players_checked) =
            (0, 0, 0, 0, 0);
        run_bots(7, 16, 900, |_, arena, snap, inputs| {
            if let Some((before, before_inputs)) = &prev {
                let hit_by = |id| arena.hits().iter().any(|h| h.projectile == id);
                for old in before.entities() {
                    let predicted = SCHEMA.extrapolate_entity(old, 1);
                    let now = snap.get(old.id);
                    if old.kind == PROJECTILE {
                        match (now, predicted) {
                            (Some(now), Some(predicted)) => {
                                assert_eq!(*now, predicted);
                                flown += 1;
                            }
                            (None, Some(_)) => {
                                assert!(hit_by(old.id), "{} vanished unpredicted", old.id);
                                hits += 1;
                            }
                            (None, None) => {
                                if old.fields[projectile_field::TICKS_LEFT] == 1 {
                                    expired += 1;
                                } else {
                                    left_arena += 1;
                                }
                            }
                            (Some(_), None) => panic!("{} predicted to despawn", old.id),
                        }
                        continue;
                    }
                    // A player whose input did not change and who neither
                    // was hit nor scored a kill moves as extrapolated.
                    let Some(now) = now else { continue };
                    let player = PlayerId(old.fields[player_field::PLAYER].cast_unsigned());
                    let input_of = |list: &[PlayerInput<ArenaInput>]| {
                        list.iter().find(|i| i.player == player).map(|i| i.input)
                    };
                    let perturbed = arena
                        .hits()
                        .iter()
                        .any(|h| h.target == player || (h.shooter == player && h.respawned));
                    if input_of(before_inputs) == input_of(inputs) && !perturbed {
                        assert_eq!(Some(*now), predicted, "{player} not as extrapolated");
                        players_checked += 1;
                    }
                }
            }
            prev = Some((snap.clone(), inputs.to_vec()));
        });
        assert!(flown > 1000, "{flown} projectile moves checked");
        assert!(hits > 0, "no hit happened");
        assert!(expired > 0, "no projectile expired");
        assert!(left_arena > 0, "no projectile left the arena");
        assert!(
            players_checked > 1000,
            "{players_checked} player moves checked"
        );
    }

    #[test]
    fn a_held_move_into_a_wall_extrapolates_over_1_and_10_ticks() {
        let mut arena =
            Arena::new(&ArenaConfig::default(), &GameOptions::default(), 3).expect("default arena");
        arena.seat(PlayerId(9)).expect("join");
        let held = [PlayerInput {
            player: PlayerId(9),
            input: ArenaInput {
                move_x: 0.8,
                move_y: -0.6,
                aim: 1.0,
                fire: false,
            },
        }];
        let mut history: Vec<WorldSnapshot> = Vec::new();
        for tick in 0..300 {
            arena.advance(&held);
            let mut snap = WorldSnapshot::default();
            snapshot_of(&arena, tick, &mut snap);
            if let Some(before) = history.last() {
                let predicted: Vec<_> = before
                    .entities()
                    .iter()
                    .filter_map(|e| SCHEMA.extrapolate_entity(e, 1))
                    .collect();
                assert_eq!(predicted, snap.entities(), "1-tick prediction at {tick}");
            }
            if let Some(before) = history.len().checked_sub(10).and_then(|i| history.get(i)) {
                let predicted: Vec<_> = before
                    .entities()
                    .iter()
                    .filter_map(|e| SCHEMA.extrapolate_entity(e, 10))
                    .collect();
                assert_eq!(predicted, snap.entities(), "10-tick prediction at {tick}");
            }
            history.push(snap);
        }
        // 300 ticks at 6.7 units/tick: both walls reached, velocity kept.
        let end = arena.player(PlayerId(9)).expect("seated");
        assert_eq!(end.position, Vec2::new(1000.0, 0.0));
        let e = history
            .last()
            .and_then(|s| s.entities().first().copied())
            .expect("avatar");
        assert_eq!(
            e.fields[player_field::VX],
            341,
            "0.8 * 6.67 units in 1/64 steps"
        );
        assert_eq!(e.fields[player_field::VY], -256);
        assert_eq!(e.fields[player_field::AIM], 652, "1 rad in 1/4096 turns");
    }

    #[test]
    fn views_match_the_replicated_entities() {
        run_bots(5, 4, 60, |_, arena, snap, _| {
            let rate = arena.tick_rate();
            let players: Vec<_> = snap
                .entities()
                .iter()
                .filter_map(|e| PlayerView::from_entity(e, rate))
                .collect();
            let projectiles: Vec<_> = snap
                .entities()
                .iter()
                .filter_map(|e| ProjectileView::from_entity(e, rate))
                .collect();
            assert_eq!(players, arena.players().collect::<Vec<_>>());
            assert_eq!(projectiles, arena.projectiles().collect::<Vec<_>>());
            for p in &players {
                assert!((1..=100).contains(&p.hp));
                assert!(p.position.cmpge(Vec2::ZERO).all());
                assert!(p.position.cmple(Vec2::splat(1000.0)).all());
            }
        });
    }

    #[test]
    fn entity_ids_are_shared_increasing_and_never_reused() {
        let mut seen = std::collections::BTreeSet::new();
        let mut last_new = 0;
        run_bots(11, 8, 300, |_, _, snap, _| {
            for e in snap.entities() {
                if seen.insert(e.id) {
                    assert!(e.id.0 > last_new, "{} appeared after {last_new}", e.id);
                    last_new = e.id.0;
                }
            }
        });
        assert_eq!(seen.iter().next(), Some(&EntityId(1)));
        assert!(seen.len() > 8, "projectiles got ids too");
    }

    #[test]
    fn options_override_and_are_checked() {
        let base = ArenaConfig::default();
        let c = base
            .with_options(&options(&[
                ("width", "2000"),
                ("tick_rate", "60"),
                ("hit_damage", "25"),
                ("fire_cooldown", "0.25"),
            ]))
            .expect("valid options");
        assert_eq!(c.width, 2000.0);
        assert_eq!(c.height, 1000.0);
        assert_eq!(c.tick_rate.hz(), 60);
        assert_eq!(c.hit_damage, 25);
        assert_eq!(Params::new(&c).cooldown_ticks, 15);
        assert_eq!(Params::new(&c).lifetime_ticks, 60);
        assert_eq!(Params::new(&c).max, IVec2::new(128_000, 64_000));
        assert_eq!(base.with_options(&GameOptions::default()), Ok(base));

        let rejected = |pairs: &[(&str, &str)], key: &str| match base.with_options(&options(pairs))
        {
            Err(GameError::BadOption { key: k, .. }) => assert_eq!(k, key, "{pairs:?}"),
            other => panic!("{pairs:?} gave {other:?}"),
        };
        rejected(&[("widht", "5")], "widht");
        rejected(&[("width", "-5")], "width");
        rejected(&[("width", "0")], "width");
        rejected(&[("height", "NaN")], "height");
        rejected(&[("player_speed", "inf")], "player_speed");
        rejected(&[("width", "20000000")], "width");
        rejected(&[("tick_rate", "0")], "tick_rate");
        rejected(&[("tick_rate", "241")], "tick_rate");
        rejected(&[("tick_rate", "30.5")], "tick_rate");
        rejected(&[("max_hp", "0")], "max_hp");
        rejected(&[("max_hp", "-1")], "max_hp");
        rejected(&[("hit_damage", "3000000000")], "hit_damage");
        rejected(&[("projectile_lifetime", "0")], "projectile_lifetime");
        rejected(&[("fire_cooldown", "-0.5")], "fire_cooldown");
        rejected(&[("hit_radius", "abc")], "hit_radius");
        assert!(Arena::new(&base, &options(&[("max_hp", "0")]), 1).is_err());
        let bad = ArenaConfig {
            projectile_speed: f32::NAN,
            ..base
        };
        assert!(Arena::new(&bad, &GameOptions::default(), 1).is_err());
    }
}
