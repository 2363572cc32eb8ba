//! World vectors: a baseline world, the `Update` frame the server sends
//! against it, and the world and checksum a client must end with, one JSON
//! file per case in `shared/tests/golden/worlds/`. They let a client in any
//! language check its delta decoder, its extrapolation and its checksum
//! against the Rust ones (`docs/protocol.md`, "World vectors").
//!
//! Every case is built here from the real arena schema, encoded by the real
//! encoder with the world's real checksum, and then proven: the committed
//! file's update is applied to its baseline by the real decoder
//! (`delta::apply` and a `Replica`, which checks the checksum) and must
//! give its expected world. Set `TICKWIRE_BLESS=1` to rewrite the files
//! after an intended change; otherwise the files must be exactly what the
//! cases generate.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tickwire_shared::arena::{Arena, ArenaConfig, ArenaInput, PLAYER, PROJECTILE, SCHEMA};
use tickwire_shared::client::replica::Replica;
use tickwire_shared::codec::{self, MAX_SERVER_FRAME};
use tickwire_shared::delta;
use tickwire_shared::game::{Game, GameOptions, PlayerInput};
use tickwire_shared::ids::{EntityId, PlayerId};
use tickwire_shared::protocol::samples;
use tickwire_shared::protocol::{ServerMessage, Update};
use tickwire_shared::rng::SimRng;
use tickwire_shared::snapshot::{EntityKind, EntityState, MAX_FIELDS, WorldSnapshot};
use tickwire_shared::tick::Tick;

/// The arena's walls in fixed point: positions run `0..=WALL` on both axes.
const WALL: i32 = 64_000;

/// The empty delta: three zero counts (bits 1, 1, 1) and padding.
const EMPTY_DELTA: &[u8] = &[0x07];

fn worlds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/worlds")
}

/// One vector: the update from `baseline` (a full snapshot when `None`)
/// to `world`.
struct Case {
    name: &'static str,
    description: &'static str,
    baseline: Option<WorldSnapshot>,
    world: WorldSnapshot,
    lateness_us: u32,
    /// The exact delta bitstream, where the case is about its form (the
    /// empty delta when the prediction is the world).
    delta: Option<&'static [u8]>,
}

fn player(id: u32, fields: [i32; 8]) -> EntityState {
    EntityState::new(EntityId(id), PLAYER, &fields)
}

fn projectile(id: u32, fields: [i32; 6]) -> EntityState {
    EntityState::new(EntityId(id), PROJECTILE, &fields)
}

/// A standing player `id` of player id `id` with full hp at `(x, y)`.
fn standing(id: u32, x: i32, y: i32) -> EntityState {
    player(id, [x, y, 0, 0, 0, 100, 0, id.cast_signed()])
}

fn world(tick: u32, entities: impl IntoIterator<Item = EntityState>) -> WorldSnapshot {
    let mut world = WorldSnapshot::empty(Tick(tick));
    for entity in entities {
        world.push(entity);
    }
    world.finish().expect("distinct entity ids");
    world
}

/// `baseline` extrapolated to `tick` by the schema's rules: the world a
/// client predicts before it reads the delta.
fn predicted(baseline: &WorldSnapshot, tick: u32) -> WorldSnapshot {
    let age = Tick(tick).since(baseline.tick).expect("a later tick");
    let mut entities = Vec::new();
    SCHEMA.extrapolate(baseline, age, &mut entities);
    world(tick, entities)
}

/// `world` with the entity `id` replaced by what `change` makes of it.
fn changed(
    mut world: WorldSnapshot,
    id: u32,
    change: impl FnOnce(&mut [i32; MAX_FIELDS]),
) -> WorldSnapshot {
    let mut entities: Vec<EntityState> = world.entities().to_vec();
    let entity = entities
        .iter_mut()
        .find(|e| e.id == EntityId(id))
        .expect("the entity to change");
    change(&mut entity.fields);
    world.clear(world.tick);
    entities.into_iter().for_each(|e| world.push(e));
    world.finish().expect("distinct entity ids");
    world
}

fn full_snapshots() -> Vec<Case> {
    vec![
        Case {
            name: "full_empty",
            description: "A full snapshot (age 0) of a world with no entity: the empty delta \
                          (changed, removed and created counts all 0). Its checksum is the FNV \
                          offset basis.",
            baseline: None,
            world: WorldSnapshot::empty(Tick(1)),
            lateness_us: 0,
            delta: Some(EMPTY_DELTA),
        },
        Case {
            name: "full_players_and_projectiles",
            description: "A full snapshot of three players and two projectiles, ids 1, 2, 4, 9, \
                          10: the first created id is coded against 0 (the empty world has no \
                          largest id), each later one as the gap after the previous; negative \
                          velocities, a player on the wall corner.",
            baseline: None,
            world: world(
                100,
                [
                    player(1, [12_800, 51_200, 427, 0, 0, 100, 3, 1]),
                    player(2, [WALL, 0, 0, 0, 2048, 40, 0, 2]),
                    player(4, [30_000, 30_001, -302, 302, 3584, 100, 12, 5]),
                    projectile(9, [13_227, 51_200, 1280, 0, 1, 30]),
                    projectile(10, [29_698, 30_303, -905, 905, 5, 7]),
                ],
            ),
            lateness_us: 1234,
            delta: None,
        },
    ]
}

fn creations() -> Vec<Case> {
    let two = world(10, [standing(1, 1000, 1000), standing(2, 2000, 1000)]);
    let with_five = world(
        10,
        [
            standing(1, 1000, 1000),
            standing(2, 2000, 1000),
            projectile(5, [5000, 5000, 0, 0, 2, 50]),
        ],
    );
    let spread = world(10, [standing(1, 1000, 1000), standing(20, 2000, 1000)]);
    let top = world(
        10,
        [
            standing(1, 1000, 1000),
            projectile(u32::MAX, [6000, 6000, 0, 0, 1, 50]),
        ],
    );
    vec![
        Case {
            name: "create_after_largest",
            description: "Two projectiles created with ids 3 and 4, right after the largest \
                          predicted id 2: the first id is S(0) of 3 - (2 + 1) = 0, the second \
                          G(0) of 4 - 3 - 1 = 0.",
            world: world(
                11,
                two.entities().iter().copied().chain([
                    projectile(3, [1000, 1000, 1280, 0, 1, 30]),
                    projectile(4, [2000, 1000, 0, 1280, 2, 30]),
                ]),
            ),
            baseline: Some(two),
            lateness_us: 0,
            delta: None,
        },
        Case {
            name: "create_with_gaps",
            description: "Ids 9, 10 and 15 created over a world of 1, 2 and 5: the first is S(0) \
                          of 9 - 6 = 3, then G(0) of 0 and of 4 (the ids skipped between \
                          them).",
            world: world(
                11,
                predicted(&with_five, 11).entities().iter().copied().chain([
                    projectile(9, [1000, 1000, 1280, 0, 1, 30]),
                    standing(10, 7000, 7000),
                    projectile(15, [2000, 1000, 0, -1280, 2, 30]),
                ]),
            ),
            baseline: Some(with_five),
            lateness_us: 0,
            delta: None,
        },
        Case {
            name: "create_below_largest",
            description: "Ids 7 and 25 created over a world of 1 and 20: the first created id is \
                          below the largest predicted id, so its S(0) is negative (7 - 21 = \
                          -14); then G(0) of 25 - 7 - 1 = 17. The result is sorted by id.",
            world: world(
                11,
                spread
                    .entities()
                    .iter()
                    .copied()
                    .chain([standing(7, 3000, 3000), standing(25, 4000, 4000)]),
            ),
            baseline: Some(spread),
            lateness_us: 0,
            delta: None,
        },
        Case {
            name: "create_id_wraps",
            description: "The largest predicted id is 4294967295, so the next id wraps to 0 and \
                          id 4294967290 is coded as S(0) of 4294967290 - 0 taken as an i32: -6 \
                          (u32 arithmetic, wrapping).",
            world: world(
                11,
                predicted(&top, 11)
                    .entities()
                    .iter()
                    .copied()
                    .chain([projectile(u32::MAX - 5, [7000, 7000, 0, 0, 1, 40])]),
            ),
            baseline: Some(top),
            lateness_us: 0,
            delta: None,
        },
    ]
}

fn removals() -> Vec<Case> {
    let six = world(30, (1..=6).map(|id| standing(id, 1000 * id as i32, 500)));
    let eight = world(40, (1..=8).map(|id| standing(id, 1000 * id as i32, 500)));
    let mut interleaved = changed(eight.clone(), 2, |f| f[5] = 90);
    interleaved = changed(interleaved, 5, |f| f[6] = 1);
    interleaved = changed(interleaved, 7, |f| f[4] = 1024);
    interleaved = world(
        41,
        interleaved
            .entities()
            .iter()
            .copied()
            .filter(|e| ![1, 4, 8].contains(&e.id.0)),
    );
    let three = world(
        50,
        [
            standing(1, 100, 100),
            standing(2, 200, 200),
            projectile(3, [300, 300, 10, 10, 1, 20]),
        ],
    );
    let kinds = world(60, [standing(1, 100, 100), standing(2, 200, 200)]);
    vec![
        Case {
            name: "remove_first_and_last",
            description: "Entities 1 and 6 of 1..=6 removed: removed count 2, index gaps 0 (index \
                          0) and 4 (index 5 = 0 + 1 + 4). Indices are positions in the predicted \
                          world.",
            world: world(31, (2..=5).map(|id| standing(id, 1000 * id as i32, 500))),
            baseline: Some(six),
            lateness_us: 0,
            delta: None,
        },
        Case {
            name: "changes_and_removals_interleaved",
            description: "Of entities 1..=8, 2, 5 and 7 change (hp, score, aim) and 1, 4 and 8 \
                          are removed. The changed section's gaps are 1, 2, 1 (indices 1, 4, 6); \
                          the removed section starts again from index 0: gaps 0, 2, 3 \
                          (indices 0, 3, 7).",
            world: interleaved,
            baseline: Some(eight),
            lateness_us: 0,
            delta: None,
        },
        Case {
            name: "remove_all",
            description: "Every entity removed: removed count 3, gaps 0, 0, 0; the world is empty \
                          and its checksum the FNV offset basis.",
            world: WorldSnapshot::empty(Tick(51)),
            baseline: Some(three),
            lateness_us: 0,
            delta: None,
        },
        Case {
            name: "replace_kind",
            description: "Entity 2 keeps its id but becomes a projectile: a kind never changes in \
                          place, so index 1 is removed and id 2 created (S(0) of 2 - 3 = -1).",
            world: world(
                61,
                [
                    standing(1, 100, 100),
                    projectile(2, [200, 200, 1280, 0, 1, 30]),
                ],
            ),
            baseline: Some(kinds),
            lateness_us: 0,
            delta: None,
        },
    ]
}

fn extrapolations() -> Vec<Case> {
    let walls = world(
        50,
        [
            player(1, [63_900, 32_000, 427, 0, 0, 100, 0, 1]),
            player(2, [WALL, WALL, 302, 302, 512, 100, 0, 2]),
            player(3, [200, 100, -427, -427, 2560, 100, 0, 3]),
            player(4, [0, 40_000, -427, 0, 2048, 100, 0, 4]),
            player(5, [30_000, 30_000, 100, -100, 3584, 100, 0, 5]),
        ],
    );
    let lifetimes = world(
        70,
        [
            projectile(1, [1000, 1000, 10, 0, 1, 1]),
            projectile(2, [2000, 2000, 0, 10, 1, 2]),
            standing(3, 3000, 3000),
        ],
    );
    let leaving = world(
        80,
        [
            projectile(1, [63_000, 1000, 1280, 0, 1, 20]),
            projectile(2, [62_720, 500, 1280, 0, 1, 20]),
            projectile(3, [500, 1000, -905, -905, 1, 20]),
            projectile(4, [1000, 100, 0, -100, 1, 20]),
            projectile(5, [30_000, 63_999, 0, 2, 1, 20]),
        ],
    );
    // 3 * 1431655765 = 2^32 - 1: in 32-bit wrapping arithmetic the moves
    // below would land back inside the arena at x = 999.
    let fast = world(
        10,
        [
            player(1, [1000, 1000, 1_431_655_765, -2_000_000_000, 0, 100, 0, 1]),
            projectile(2, [1000, 1000, 1_431_655_765, 0, 1, 100]),
            projectile(3, [1000, 1000, 0, 0, 1, i32::MIN]),
        ],
    );
    vec![
        Case {
            name: "walls_clamp_prediction_matches",
            description: "Age 1. Players pushing into the walls: x 63900 + 427 clamps to 64000, \
                          one already in the corner stays, one moving down-left clamps to (0, 0), \
                          one stays at x = 0; velocities are kept. The world is exactly the \
                          prediction, so the delta is empty (07).",
            world: predicted(&walls, 51),
            baseline: Some(walls),
            lateness_us: 0,
            delta: Some(EMPTY_DELTA),
        },
        Case {
            name: "projectile_lifetime_runs_out",
            description: "Age 1. A projectile with 1 tick left is predicted gone (1 - 1 = 0), with \
                          no removal entry; one with 2 left keeps flying with 1. The delta is \
                          empty (07).",
            world: predicted(&lifetimes, 71),
            baseline: Some(lifetimes),
            lateness_us: 0,
            delta: Some(EMPTY_DELTA),
        },
        Case {
            name: "projectile_leaves_area",
            description: "Age 1. Projectiles despawn when either coordinate ends outside \
                          0..=64000: x 64280 and x, y -405 and y 64001 go; x exactly 64000 and \
                          y exactly 0 stay. No removal entries: the delta is empty (07).",
            world: predicted(&leaving, 81),
            baseline: Some(leaving),
            lateness_us: 0,
            delta: Some(EMPTY_DELTA),
        },
        Case {
            name: "extrapolation_needs_64_bits",
            description: "Age 3 with huge velocities: 1000 + 3 * 1431655765 = 4294968295 must be \
                          computed in 64 bits (wrapping 32-bit arithmetic gives 999, inside the \
                          area). The player clamps to (64000, 0); the projectile leaves the area \
                          and despawns; one whose ticks left is -2147483648 is gone too. The \
                          delta is empty (07).",
            world: predicted(&fast, 13),
            baseline: Some(fast),
            lateness_us: 0,
            delta: Some(EMPTY_DELTA),
        },
    ]
}

fn residuals() -> Vec<Case> {
    let before = world(
        90,
        [
            player(1, [10_000, 10_000, 427, 0, 0, 100, 0, 1]),
            player(2, [20_000, 20_000, 0, 0, 1024, 100, 5, 2]),
            player(3, [30_000, 30_000, 0, 0, 0, 100, 0, 3]),
            player(4, [40_000, 40_000, 0, 0, 0, 100, 0, i32::MAX]),
            player(5, [0, 50_000, -427, 0, 2048, 10, 0, 5]),
            projectile(6, [1000, 1000, 905, 905, 1, 20]),
        ],
    );
    let mut after = predicted(&before, 91);
    // Fields of a player: x y vx vy aim hp score player;
    // of a projectile: x y vx vy owner ticks_left.
    after = changed(after, 1, |f| {
        f[0] = 10_300;
        f[2] = 300;
    });
    after = changed(after, 2, |f| {
        f[4] = 1000;
        f[5] = 1;
        f[6] = 6;
    });
    after = changed(after, 3, |f| {
        *f = [31_000, 29_000, 100, -100, 4095, 90, i32::MIN, i32::MAX];
    });
    after = changed(after, 4, |f| f[7] = i32::MIN);
    after = changed(after, 5, |f| {
        f[0] = WALL;
        f[5] = 100;
    });
    after = changed(after, 6, |f| {
        f[3] = 800;
        f[5] = 25;
    });
    vec![Case {
        name: "residuals",
        description: "Age 1. Changes against the prediction, as field mask and S(change_order) \
                      residuals: entity 1 x 10427 -> 10300 and vx 427 -> 300 (mask bits 0 and 2, \
                      residuals -127, -127); entity 2 aim, hp, score (-24, -99, +1); entity 3 \
                      every field (mask 0xff), score 0 -> -2147483648 (residual i32::MIN, the \
                      longest code: 32 zeros) and player 3 -> 2147483647; entity 4 player \
                      2147483647 -> -2147483648 (residual wraps to +1); entity 5 at the wall x 0 \
                      -> 64000 and hp 10 -> 100; projectile 6 vy and ticks left 19 -> 25.",
        world: after,
        baseline: Some(before),
        lateness_us: 0,
        delta: None,
    }]
}

fn old_baseline() -> Case {
    let before = world(
        200,
        [
            player(1, [63_000, 1000, 300, -150, 100, 100, 0, 1]),
            player(2, [32_000, 32_000, 0, 0, 0, 100, 0, 2]),
            projectile(3, [1000, 1000, 1280, 0, 1, 3]),
            projectile(4, [60_000, 5000, 1280, 0, 1, 20]),
            projectile(5, [20_000, 20_000, 0, 1280, 2, 10]),
            projectile(6, [40_000, 40_000, 905, 905, 2, 30]),
        ],
    );
    let mut after = predicted(&before, 205);
    // Player 2 started moving two ticks ago and fired; projectile 6 hit
    // something.
    after = changed(after, 2, |f| {
        f[0] = 32_854;
        f[2] = 427;
    });
    let after = world(
        205,
        after
            .entities()
            .iter()
            .copied()
            .filter(|e| e.id != EntityId(6))
            .chain([projectile(9, [34_134, 32_000, 1280, 0, 2, 28])]),
    );
    Case {
        name: "delta_age_5",
        description: "Baseline 5 ticks back (tick 200 -> 205): the prediction moves everything 5 \
                      ticks at once (player 1: x 63000 + 5 * 300 clamps to 64000, y 1000 - 750 = \
                      250), projectile 3 (3 ticks left) and projectile 4 (x 66400) are gone, \
                      projectile 5 has 5 ticks left; then player 2 changes, projectile 6 is \
                      removed (index 3 of the predicted 1, 2, 5, 6) and 9 created (S(0) of \
                      9 - 7 = 2).",
        world: after,
        baseline: Some(before),
        lateness_us: 0,
        delta: None,
    }
}

fn still_present() -> Case {
    let before = world(
        300,
        [
            projectile(1, [1000, 1000, 10, 0, 2, 1]),
            standing(2, 2000, 2000),
        ],
    );
    Case {
        name: "predicted_gone_still_present",
        description: "Projectile 1 has 1 tick left, so the prediction drops it, but the server's \
                      world still has it (a game may not follow its declared rules): it comes \
                      back as a created entity (S(0) of 1 - 3 = -2) with all its fields.",
        world: world(
            301,
            [
                projectile(1, [1010, 1000, 10, 0, 2, 5]),
                standing(2, 2000, 2000),
            ],
        ),
        baseline: Some(before),
        lateness_us: 0,
        delta: None,
    }
}

/// Worlds of a real 256-player arena room (seed 2024), every player
/// steered by a seeded random stick that changes now and then; nobody
/// fires, so no float trigonometry is involved and the worlds are the same
/// on every platform.
fn arena_worlds(ticks: &[u64]) -> Vec<WorldSnapshot> {
    const SEED: u64 = 2024;
    const PLAYERS: u32 = 256;
    let mut arena = Arena::new(&ArenaConfig::default(), &GameOptions::default(), SEED)
        .expect("the default arena");
    for p in 1..=PLAYERS {
        arena.seat(PlayerId(p)).expect("a seat");
    }
    let mut rng = SimRng::new(SEED, 1);
    let mut sticks = vec![ArenaInput::default(); PLAYERS as usize];
    let mut inputs = Vec::new();
    let mut worlds = Vec::new();
    let last = ticks.iter().copied().max().unwrap_or(0);
    while arena.ticks() < last {
        inputs.clear();
        for (p, stick) in (1..=PLAYERS).zip(&mut sticks) {
            if arena.ticks() == 0 || rng.chance(0.05) {
                *stick = ArenaInput {
                    move_x: rng.range_f32(-1.0, 1.0),
                    move_y: rng.range_f32(-1.0, 1.0),
                    aim: rng.range_f32(0.0, std::f32::consts::TAU),
                    fire: false,
                };
            }
            let input = arena.validate_input(*stick).expect("a valid stick");
            inputs.push(PlayerInput {
                player: PlayerId(p),
                input,
            });
        }
        arena.advance(&inputs);
        if ticks.contains(&arena.ticks()) {
            let tick = u32::try_from(arena.ticks()).expect("a small tick");
            let mut world = WorldSnapshot::empty(Tick(tick));
            arena.snapshot(&mut world);
            world.finish().expect("distinct entity ids");
            worlds.push(world);
        }
    }
    worlds
}

fn crowd() -> Vec<Case> {
    let mut worlds = arena_worlds(&[237, 240]).into_iter();
    let (Some(before), Some(after)) = (worlds.next(), worlds.next()) else {
        panic!("two arena worlds");
    };
    vec![
        Case {
            name: "arena_256_players_full",
            description: "A full snapshot of a real 256-player arena room (seed 2024, tick 240, \
                          seeded random sticks, nobody firing).",
            baseline: None,
            world: after.clone(),
            lateness_us: 4321,
            delta: None,
        },
        Case {
            name: "arena_256_players_delta",
            description: "The same room's update at tick 240 against its world at tick 237 (age \
                          3): most players moved as extrapolated (some clamped at the walls), \
                          those who changed stick since are sent as residuals.",
            baseline: Some(before),
            world: after,
            lateness_us: 4321,
            delta: None,
        },
    ]
}

fn sample_updates() -> Vec<Case> {
    let sample = |name| {
        samples::server_messages()
            .into_iter()
            .find_map(|(n, m)| match m {
                ServerMessage::Update(u) if n == name => Some(u),
                _ => None,
            })
            .expect("the sample update")
    };
    let (full, step) = (sample("update_full"), sample("update_delta"));
    vec![
        Case {
            name: "sample_update_full",
            description: "The golden sample server_update_full.hex (annotated in \
                          docs/protocol.md): player 42's avatar and its projectile at tick 42.",
            baseline: None,
            world: samples::update_full_world(),
            lateness_us: full.lateness_us,
            delta: None,
        },
        Case {
            name: "sample_update_delta",
            description: "The golden sample server_update_delta.hex (annotated in \
                          docs/protocol.md): a hit, a removal, a lifetime running out, a new \
                          shot, at tick 20000 against 19999.",
            baseline: Some(samples::update_delta_baseline()),
            world: samples::update_delta_world(),
            lateness_us: step.lateness_us,
            delta: None,
        },
    ]
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(full_snapshots());
    cases.extend(creations());
    cases.extend(removals());
    cases.extend(extrapolations());
    cases.extend(residuals());
    cases.push(old_baseline());
    cases.push(still_present());
    cases.extend(crowd());
    cases.extend(sample_updates());
    cases
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// The update frame of a case, exactly as the server sends it.
fn frame(case: &Case) -> Vec<u8> {
    let update = Update {
        tick: case.world.tick,
        baseline: case.baseline.as_ref().map(|b| b.tick),
        lateness_us: case.lateness_us,
        checksum: case.world.checksum(),
        delta: delta::encode(&SCHEMA, case.baseline.as_ref(), &case.world).expect("encodes"),
    };
    if let Some(expected) = case.delta {
        assert_eq!(update.delta, expected, "{}: delta bytes", case.name);
    }
    let mut out = Vec::new();
    codec::encode_server(&ServerMessage::Update(update), &mut out).expect("encodes");
    out
}

fn write_entities(out: &mut String, world: &WorldSnapshot) {
    out.push_str("    \"entities\": [");
    for (i, e) in world.entities().iter().enumerate() {
        let fields: Vec<String> = e.fields.iter().map(i32::to_string).collect();
        let comma = if i + 1 < world.len() { "," } else { "" };
        write!(
            out,
            "\n      {{\"id\": {}, \"kind\": {}, \"fields\": [{}]}}{comma}",
            e.id.0,
            e.kind.0,
            fields.join(", ")
        )
        .expect("writes to a string");
    }
    out.push_str(if world.is_empty() { "]" } else { "\n    ]" });
}

/// The JSON text of a case, one entity a line.
fn to_json(case: &Case) -> String {
    let text = |s: &str| serde_json::to_string(s).expect("a JSON string");
    let mut out = String::from("{\n");
    writeln!(out, "  \"name\": {},", text(case.name)).expect("writes");
    writeln!(out, "  \"description\": {},", text(case.description)).expect("writes");
    out.push_str("  \"schema\": \"arena\",\n");
    match &case.baseline {
        None => out.push_str("  \"baseline\": null,\n"),
        Some(base) => {
            writeln!(out, "  \"baseline\": {{\n    \"tick\": {},", base.tick.0).expect("writes");
            write_entities(&mut out, base);
            out.push_str("\n  },\n");
        }
    }
    writeln!(out, "  \"update_hex\": \"{}\",", to_hex(&frame(case))).expect("writes");
    writeln!(
        out,
        "  \"expected\": {{\n    \"tick\": {},",
        case.world.tick.0
    )
    .expect("writes");
    write_entities(&mut out, &case.world);
    write!(
        out,
        ",\n    \"checksum\": {}\n  }}\n}}\n",
        case.world.checksum()
    )
    .expect("writes");
    out
}

fn json_u32(value: &Value, what: &str) -> u32 {
    value
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or_else(|| panic!("{what}: not a u32: {value}"))
}

/// A world as a vector file writes it (`{"tick", "entities"}`).
fn world_from_json(value: &Value, what: &str) -> WorldSnapshot {
    let tick = json_u32(&value["tick"], &format!("{what}.tick"));
    let entities = value["entities"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}.entities: not an array"));
    world(
        tick,
        entities.iter().map(|e| {
            let fields: Vec<i32> = e["fields"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: fields not an array"))
                .iter()
                .map(|f| {
                    f.as_i64()
                        .and_then(|f| i32::try_from(f).ok())
                        .unwrap_or_else(|| panic!("{what}: field {f} is not an i32"))
                })
                .collect();
            assert_eq!(fields.len(), MAX_FIELDS, "{what}: always 8 fields");
            let kind = u8::try_from(json_u32(&e["kind"], what)).expect("a u8 kind");
            EntityState::new(
                EntityId(json_u32(&e["id"], what)),
                EntityKind(kind),
                &fields,
            )
        }),
    )
}

/// Applies a committed vector with the real decoder, both the plain delta
/// decoder and a client's replica (which checks the checksum), and checks
/// it gives the expected world.
fn prove(name: &str, text: &str) {
    let json: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(json["name"], name, "{name}: the name is the file's");
    assert_eq!(json["schema"], "arena", "{name}");
    let baseline = match &json["baseline"] {
        Value::Null => None,
        value => Some(world_from_json(value, &format!("{name}.baseline"))),
    };
    let expected = world_from_json(&json["expected"], &format!("{name}.expected"));
    let checksum = json_u32(&json["expected"]["checksum"], name);
    assert_eq!(
        expected.checksum(),
        checksum,
        "{name}: the expected checksum"
    );

    let bytes = from_hex(json["update_hex"].as_str().expect("update_hex"));
    let Ok(ServerMessage::Update(update)) = codec::decode_server(&bytes, MAX_SERVER_FRAME) else {
        panic!("{name}: update_hex is not an Update frame");
    };
    assert_eq!(update.tick, expected.tick, "{name}: tick");
    assert_eq!(update.checksum, checksum, "{name}: the frame's checksum");
    assert_eq!(
        update.baseline,
        baseline.as_ref().map(|b| b.tick),
        "{name}: the frame's age names the baseline"
    );
    let rebuilt = delta::apply(&SCHEMA, baseline.as_ref(), update.tick, &update.delta)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(rebuilt, expected, "{name}: the decoded world");

    let mut replica = Replica::new(SCHEMA);
    if let Some(base) = &baseline {
        let full = Update {
            tick: base.tick,
            baseline: None,
            lateness_us: 0,
            checksum: base.checksum(),
            delta: delta::encode(&SCHEMA, None, base).expect("encodes"),
        };
        replica
            .apply(&full)
            .expect("the baseline as a full snapshot");
    }
    let world = replica
        .apply(&update)
        .unwrap_or_else(|e| panic!("{name}: the replica refuses the update: {e}"));
    assert_eq!(world, &expected, "{name}: the replica's world");
}

fn check_file(path: &Path, generated: &str) -> String {
    if std::env::var_os("TICKWIRE_BLESS").is_some() {
        std::fs::create_dir_all(worlds_dir()).expect("worlds dir");
        std::fs::write(path, generated).expect("write a world vector");
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with TICKWIRE_BLESS=1 to create it)",
            path.display()
        )
    });
    if let Some((line, (file, case))) = on_disk
        .lines()
        .zip(generated.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!(
            "{} is not what its case generates, from line {}:\n  file: {file}\n  case: {case}\n\
             (after an intended change, rerun with TICKWIRE_BLESS=1)",
            path.display(),
            line + 1
        );
    }
    assert!(
        on_disk == generated,
        "{} is not what its case generates (its length differs; after an intended change, \
         rerun with TICKWIRE_BLESS=1)",
        path.display()
    );
    on_disk
}

#[test]
fn world_vectors_match_their_files_and_the_decoder() {
    let cases = cases();
    let mut names = BTreeSet::new();
    for case in &cases {
        assert!(names.insert(case.name), "two cases named {}", case.name);
        let path = worlds_dir().join(format!("{}.json", case.name));
        let on_disk = check_file(&path, &to_json(case));
        prove(case.name, &on_disk);
    }
    let files: BTreeSet<String> = std::fs::read_dir(worlds_dir())
        .expect("worlds dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .filter_map(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let names: BTreeSet<String> = names.into_iter().map(str::to_owned).collect();
    assert_eq!(files, names, "a world vector file without a case, or back");
}

#[test]
fn the_cases_show_what_they_say() {
    let cases = cases();
    let case = |name: &str| {
        cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("case {name}"))
    };
    let fields = |c: &Case, id: u32| c.world.get(EntityId(id)).map(|e| e.fields);

    let walls = case("walls_clamp_prediction_matches");
    assert_eq!(fields(walls, 1).map(|f| [f[0], f[2]]), Some([WALL, 427]));
    assert_eq!(fields(walls, 2).map(|f| [f[0], f[1]]), Some([WALL, WALL]));
    assert_eq!(fields(walls, 3).map(|f| [f[0], f[1]]), Some([0, 0]));
    assert_eq!(fields(walls, 4).map(|f| f[0]), Some(0));

    let lifetimes = case("projectile_lifetime_runs_out");
    assert_eq!(fields(lifetimes, 1), None);
    assert_eq!(fields(lifetimes, 2).map(|f| f[5]), Some(1));

    let leaving = case("projectile_leaves_area");
    let left: Vec<u32> = leaving.world.entities().iter().map(|e| e.id.0).collect();
    assert_eq!(left, [2, 4], "x = 64000 and y = 0 stay, the rest leave");

    let fast = case("extrapolation_needs_64_bits");
    assert_eq!(fields(fast, 1).map(|f| [f[0], f[1]]), Some([WALL, 0]));
    assert_eq!(fast.world.len(), 1);
    assert_eq!(1000i32.wrapping_add(1_431_655_765i32.wrapping_mul(3)), 999);

    let aged = case("delta_age_5");
    assert_eq!(
        aged.baseline
            .as_ref()
            .map(|b| aged.world.tick.since(b.tick)),
        Some(Some(5))
    );
    assert_eq!(fields(aged, 1).map(|f| [f[0], f[1]]), Some([WALL, 250]));

    for name in ["arena_256_players_full", "arena_256_players_delta"] {
        let crowd = case(name);
        assert_eq!(crowd.world.len(), 256, "{name}");
        assert!(crowd.world.entities().iter().all(|e| e.kind == PLAYER));
    }
    let crowd = case("arena_256_players_delta");
    let base = crowd.baseline.as_ref().expect("a baseline");
    let guess = predicted(base, crowd.world.tick.0);
    let moved_as_predicted = guess
        .entities()
        .iter()
        .zip(crowd.world.entities())
        .filter(|(a, b)| a == b)
        .count();
    let at_wall = crowd
        .world
        .entities()
        .iter()
        .filter(|e| e.fields[..2].iter().any(|&p| p == 0 || p == WALL))
        .count();
    assert!(
        (128..256).contains(&moved_as_predicted),
        "{moved_as_predicted} of 256 players predicted exactly"
    );
    assert!(at_wall > 0, "some players are against a wall");
}
