use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::client::{Replica, ReplicaError};
use crate::codec;
use crate::protocol::{ServerMessage, Update};
use crate::schema::{Boundary, FieldSchema, KindSchema, LinearMotion};
use crate::snapshot::EntityKind;
use crate::tick::Tick;

const fn field(absolute_order: u8, change_order: u8) -> FieldSchema {
    FieldSchema {
        name: "f",
        absolute_order,
        change_order,
    }
}

const KINDS: &[KindSchema] = &[
    KindSchema {
        name: "walker",
        fields: &[
            field(15, 8),
            field(15, 8),
            field(9, 9),
            field(9, 9),
            field(0, 0),
        ],
        motion: Some(LinearMotion {
            position: [0, 1],
            velocity: [2, 3],
            min: [0, 0],
            max: [64_000, 64_000],
            boundary: Boundary::Clamp,
        }),
        lifetime: None,
    },
    KindSchema {
        name: "bullet",
        fields: &[
            field(15, 8),
            field(15, 8),
            field(10, 8),
            field(10, 8),
            field(4, 2),
        ],
        motion: Some(LinearMotion {
            position: [0, 1],
            velocity: [2, 3],
            min: [0, 0],
            max: [64_000, 64_000],
            boundary: Boundary::Despawn,
        }),
        lifetime: Some(4),
    },
    KindSchema {
        name: "crate",
        fields: &[field(3, 3); 8],
        motion: None,
        lifetime: None,
    },
    KindSchema {
        name: "marker",
        fields: &[],
        motion: None,
        lifetime: None,
    },
];
const SCHEMA: Schema = Schema { kinds: KINDS };

fn arb_value() -> impl Strategy<Value = i32> {
    prop_oneof![4 => -64..64i32, 3 => 0..=64_000i32, 1 => any::<i32>()]
}

fn arb_entity() -> impl Strategy<Value = (u8, Vec<i32>)> {
    (0u8..KINDS.len() as u8).prop_flat_map(|kind| {
        (
            Just(kind),
            prop::collection::vec(arb_value(), KINDS[kind as usize].fields.len()),
        )
    })
}

fn world(tick: u32, entities: &BTreeMap<u32, (u8, Vec<i32>)>) -> WorldSnapshot {
    let mut w = WorldSnapshot::empty(Tick(tick));
    for (&id, (kind, fields)) in entities {
        w.push(EntityState::new(EntityId(id), EntityKind(*kind), fields));
    }
    w.finish().expect("unique ids");
    w
}

/// What happens to each predicted entity on the way to the target world.
#[derive(Clone, Debug)]
enum Fate {
    AsPredicted,
    Changed(Vec<(usize, i32)>),
    Removed,
    Replaced(u8, Vec<i32>),
}

fn arb_fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        5 => Just(Fate::AsPredicted),
        3 => prop::collection::vec((0usize..8, arb_value()), 1..4).prop_map(Fate::Changed),
        1 => Just(Fate::Removed),
        1 => arb_entity().prop_map(|(k, f)| Fate::Replaced(k, f)),
    ]
}

/// A baseline, a target that churns it, and the target's age in ticks.
fn arb_case() -> impl Strategy<Value = (WorldSnapshot, WorldSnapshot)> {
    (
        prop::collection::btree_map(0u32..400, arb_entity(), 0..40),
        prop::collection::vec(arb_fate(), 40),
        prop::collection::btree_map(0u32..800, arb_entity(), 0..12),
        1u32..40,
        0u32..1_000_000,
    )
        .prop_map(|(base, fates, fresh, age, start)| {
            let baseline = world(start, &base);
            let mut predicted = Vec::new();
            SCHEMA.extrapolate(&baseline, age, &mut predicted);
            let mut target: BTreeMap<u32, (u8, Vec<i32>)> = BTreeMap::new();
            for (e, fate) in predicted.iter().zip(fates.iter().cycle()) {
                let count = KINDS[e.kind.0 as usize].fields.len();
                let mut fields = e.fields[..count].to_vec();
                match fate {
                    Fate::AsPredicted => {}
                    Fate::Changed(changes) => {
                        for &(i, v) in changes {
                            if i < count {
                                fields[i] = v;
                            }
                        }
                    }
                    Fate::Removed => continue,
                    Fate::Replaced(kind, new_fields) => {
                        target.insert(e.id.0, (*kind, new_fields.clone()));
                        continue;
                    }
                }
                target.insert(e.id.0, (e.kind.0, fields));
            }
            for (id, entity) in fresh {
                target.entry(id).or_insert(entity);
            }
            (baseline, world(start + age, &target))
        })
}

fn update_frame(baseline: Option<&WorldSnapshot>, current: &WorldSnapshot) -> Vec<u8> {
    let mut frame = Vec::new();
    codec::encode_update_header(
        current.tick,
        baseline.map(|b| b.tick),
        0,
        current.checksum(),
        &mut frame,
    )
    .expect("header");
    DeltaEncoder::new()
        .encode(&SCHEMA, baseline, current, &mut frame)
        .expect("encodes");
    frame
}

fn decode_update(frame: &[u8]) -> Option<Update> {
    match codec::decode_server(frame, codec::MAX_SERVER_FRAME) {
        Ok(ServerMessage::Update(u)) => Some(u),
        _ => None,
    }
}

fn replica_holding(baseline: &WorldSnapshot) -> Replica {
    let mut replica = Replica::new(SCHEMA);
    let full = decode_update(&update_frame(None, baseline)).expect("full snapshot decodes");
    replica.apply(&full).expect("full snapshot applies");
    replica
}

#[test]
fn the_test_schema_is_valid() {
    SCHEMA.validate().expect("valid");
}

#[test]
fn predictable_motion_costs_one_byte() {
    let mut base = WorldSnapshot::empty(Tick(10));
    for id in 0..16 {
        base.push(EntityState::new(
            EntityId(id),
            EntityKind(0),
            &[1000 * id as i32, 500, 7, -3, 1],
        ));
    }
    base.finish().unwrap();
    let mut now = WorldSnapshot::empty(Tick(13));
    let mut predicted = Vec::new();
    SCHEMA.extrapolate(&base, 3, &mut predicted);
    predicted.into_iter().for_each(|e| now.push(e));
    now.finish().unwrap();
    let bytes = encode(&SCHEMA, Some(&base), &now).unwrap();
    assert_eq!(bytes, [0b111], "three empty lists");
    assert_eq!(apply(&SCHEMA, Some(&base), Tick(13), &bytes).unwrap(), now);
}

#[test]
fn unknown_kinds_and_future_baselines_are_encode_errors() {
    let mut w = WorldSnapshot::empty(Tick(5));
    w.push(EntityState::new(EntityId(1), EntityKind(9), &[1]));
    w.finish().unwrap();
    assert_eq!(encode(&SCHEMA, None, &w), Err(DeltaError::UnknownKind(9)));
    let later = WorldSnapshot::empty(Tick(6));
    assert_eq!(
        encode(&SCHEMA, Some(&later), &WorldSnapshot::empty(Tick(5))),
        Err(DeltaError::BaselineAfterCurrent)
    );
}

#[test]
fn a_corrupt_created_kind_or_duplicate_id_is_an_error() {
    // One created entity whose kind is 7 (not in the schema).
    let mut bytes = Vec::new();
    let mut w = BitWriter::new(&mut bytes);
    w.golomb(0, 0);
    w.golomb(0, 0);
    w.golomb(1, 0);
    w.signed(0, 0);
    w.golomb(7, 0);
    w.finish();
    assert_eq!(
        apply(&SCHEMA, None, Tick(1), &bytes),
        Err(DeltaError::Corrupt("unknown kind"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn apply_inverts_encode((baseline, target) in arb_case()) {
        let bytes = encode(&SCHEMA, Some(&baseline), &target)?;
        let rebuilt = apply(&SCHEMA, Some(&baseline), target.tick, &bytes)?;
        prop_assert_eq!(&rebuilt, &target);
        prop_assert_eq!(rebuilt.checksum(), target.checksum());

        let full = encode(&SCHEMA, None, &target)?;
        prop_assert_eq!(apply(&SCHEMA, None, target.tick, &full)?, target);
    }

    #[test]
    fn a_delta_is_never_larger_than_needed_for_an_unchanged_world((baseline, _) in arb_case(), age in 1u32..30) {
        let mut predicted = Vec::new();
        SCHEMA.extrapolate(&baseline, age, &mut predicted);
        let mut now = WorldSnapshot::empty(Tick(baseline.tick.0 + age));
        predicted.into_iter().for_each(|e| now.push(e));
        now.finish().expect("unique");
        prop_assert_eq!(encode(&SCHEMA, Some(&baseline), &now)?.len(), 1);
    }

    #[test]
    fn replicas_follow_a_delta_over_the_wire((baseline, target) in arb_case()) {
        let mut replica = replica_holding(&baseline);
        let update = decode_update(&update_frame(Some(&baseline), &target)).expect("decodes");
        prop_assert_eq!(replica.apply(&update).cloned(), Ok(target.clone()));
        prop_assert_eq!(replica.ack().map(|a| a.tick), Some(target.tick));
    }

    #[test]
    fn corrupted_deltas_are_errors_never_wrong_worlds(
        (baseline, target) in arb_case(),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut replica = replica_holding(&baseline);
        let mut update = decode_update(&update_frame(Some(&baseline), &target)).expect("decodes");
        let at = index.index(update.delta.len());
        update.delta[at] ^= flip;
        match replica.apply(&update) {
            Ok(world) => prop_assert_eq!(world, &target, "a corrupted delta gave a wrong world"),
            Err(ReplicaError::Delta(_) | ReplicaError::ChecksumMismatch { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
        // The failed update left the replica where it was.
        prop_assert_eq!(replica.latest().map(|w| w.tick), Some(baseline.tick));
    }

    #[test]
    fn truncated_deltas_are_errors((baseline, target) in arb_case(), cut in any::<prop::sample::Index>()) {
        let mut replica = replica_holding(&baseline);
        let mut update = decode_update(&update_frame(Some(&baseline), &target)).expect("decodes");
        let keep = cut.index(update.delta.len());
        update.delta.truncate(keep);
        prop_assert!(replica.apply(&update).is_err(), "truncated to {} bytes", keep);
    }

    #[test]
    fn random_bytes_never_panic_the_decoder((baseline, _) in arb_case(), bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = apply(&SCHEMA, Some(&baseline), Tick(baseline.tick.0 + 1), &bytes);
        let _ = apply(&SCHEMA, None, Tick(1), &bytes);
    }
}

mod arena_worlds {
    use proptest::prelude::*;

    use super::super::*;
    use crate::arena::{Arena, ArenaBot, ArenaConfig, BotConfig, SCHEMA};
    use crate::game::{Game, GameOptions, PlayerInput};
    use crate::ids::PlayerId;
    use crate::tick::Tick;

    /// Snapshots of a seeded arena with `players` bots, one per tick.
    fn play(seed: u64, players: u32, ticks: u32) -> Vec<WorldSnapshot> {
        let mut game =
            Arena::new(&ArenaConfig::default(), &GameOptions::default(), seed).expect("defaults");
        let mut bots: Vec<ArenaBot> = (0..players)
            .map(|p| {
                game.seat(PlayerId(p)).expect("seat");
                ArenaBot::new(BotConfig::default(), seed, u64::from(p))
            })
            .collect();
        (1..=ticks)
            .map(|t| {
                let inputs: Vec<_> = bots
                    .iter_mut()
                    .enumerate()
                    .map(|(p, bot)| PlayerInput {
                        player: PlayerId(p as u32),
                        input: bot.next_input(),
                    })
                    .collect();
                game.advance(&inputs);
                let mut world = WorldSnapshot::empty(Tick(t));
                game.snapshot(&mut world);
                world.finish().expect("unique ids");
                world
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Real arena worlds, any baseline age the server may use: the
        /// client rebuilds exactly the server's quantized world.
        #[test]
        fn arena_deltas_rebuild_the_server_world(seed in any::<u64>(), players in 1u32..40, ages in prop::collection::vec(1usize..32, 20)) {
            let worlds = play(seed, players, 120);
            let mut encoder = DeltaEncoder::new();
            let mut decoder = DeltaDecoder::new();
            let mut out = WorldSnapshot::default();
            for (i, age) in ages.into_iter().enumerate() {
                let t = 40 + i * 4;
                let (base, now) = (&worlds[t - age], &worlds[t]);
                let mut bytes = Vec::new();
                encoder.encode(&SCHEMA, Some(base), now, &mut bytes)?;
                decoder.apply(&SCHEMA, Some(base), now.tick, &bytes, &mut out)?;
                prop_assert_eq!(&out, now);
                prop_assert_eq!(out.checksum(), now.checksum());
            }
        }
    }
}
