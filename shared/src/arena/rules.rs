//! The arena's per-tick rules, one function each, applied by
//! [`Arena`](super::Arena)'s `step` in the workload's order: inputs, player
//! motion, fire, projectile motion, hits. Also owns input normalisation.
//!
//! Every rule works on the fixed-point world, so that the result is on the
//! wire grid and projectile motion matches the schema's extrapolation
//! exactly. No rule allocates beyond amortised `Vec` growth.

use glam::{IVec2, Vec2};

use super::{
    ANGLE_STEPS, ArenaInput, Hit, POSITION_SCALE, Params, Projectile, World, allocate_entity,
    random_position,
};
use crate::delta::quantize::{angle_from_fixed, angle_to_fixed, to_fixed};
use crate::game::{GameError, PlayerInput};

/// Slack on the unit length before a move vector counts as too long, so that
/// normalising twice changes nothing.
const UNIT_SLACK: f32 = 1e-6;

/// Checks an input and brings its move vector to length at most 1: a
/// non-finite move component or aim is rejected; a longer vector is
/// normalised and each component clamped to `[-1, 1]`. Idempotent.
pub(super) fn normalise_input(input: ArenaInput) -> Result<ArenaInput, GameError> {
    if !input.move_x.is_finite() || !input.move_y.is_finite() {
        return Err(GameError::InvalidInput("move is not a finite vector"));
    }
    if !input.aim.is_finite() {
        return Err(GameError::InvalidInput("aim is not a finite angle"));
    }
    let mut moved = Vec2::new(input.move_x, input.move_y);
    let largest = moved.abs().max_element();
    // Compare against the largest component first: squaring a huge finite
    // value would overflow.
    if largest > 1.0 || moved.length_squared() > 1.0 + UNIT_SLACK {
        // Scaled into [-1, 1] first, the length is in [1, √2] and
        // normalising is exact enough.
        moved = (moved / largest)
            .normalize_or_zero()
            .clamp(Vec2::NEG_ONE, Vec2::ONE);
    }
    Ok(ArenaInput {
        move_x: moved.x,
        move_y: moved.y,
        ..input
    })
}

/// Quantizes a displacement in units to 1/64-unit steps.
fn to_grid(units: Vec2) -> IVec2 {
    IVec2::new(
        to_fixed(units.x, POSITION_SCALE),
        to_fixed(units.y, POSITION_SCALE),
    )
}

/// Rule 1: each seated player's input from `inputs` becomes their current
/// input and sets their aim. A seated player missing from `inputs` keeps
/// their previous input; an input for an unseated player, or one that fails
/// [`normalise_input`] (the room validated it already), is ignored. When a
/// player appears twice the later entry wins.
pub(super) fn apply_inputs(world: &mut World, inputs: &[PlayerInput<ArenaInput>]) {
    for entry in inputs {
        let Ok(index) = world.avatar_index(entry.player) else {
            continue;
        };
        let Ok(input) = normalise_input(entry.input) else {
            continue;
        };
        if let Some(avatar) = world.avatars.get_mut(index) {
            avatar.input = input;
        }
    }
    for avatar in &mut world.avatars {
        avatar.aim = angle_to_fixed(avatar.input.aim, ANGLE_STEPS);
    }
}

/// Rule 2: velocity = move × player speed, as a per-tick displacement on the
/// grid; position += velocity, clamped to the arena. The velocity is kept
/// while the player presses against a wall.
pub(super) fn move_players(world: &mut World, params: &Params) {
    for avatar in &mut world.avatars {
        let stick = Vec2::new(avatar.input.move_x, avatar.input.move_y);
        avatar.vel = to_grid(stick * params.player_step);
        avatar.pos = avatar
            .pos
            .saturating_add(avatar.vel)
            .clamp(IVec2::ZERO, params.max);
    }
}

/// Rule 3: a player holding fire whose last shot was at least the cooldown
/// ago (or who never shot) spawns a projectile at their moved position,
/// heading along their quantized aim. Players fire in player-id order, so
/// projectile ids follow it.
pub(super) fn fire(world: &mut World, params: &Params) {
    let World {
        avatars,
        projectiles,
        next_entity,
        tick,
        ..
    } = world;
    for avatar in avatars.iter_mut() {
        if !avatar.input.fire {
            continue;
        }
        let cooling = avatar
            .last_shot
            .is_some_and(|last| tick.saturating_sub(last) < params.cooldown_ticks);
        if cooling {
            continue;
        }
        let Some(entity) = allocate_entity(next_entity) else {
            return;
        };
        let heading = Vec2::from_angle(angle_from_fixed(avatar.aim, ANGLE_STEPS));
        projectiles.push(Projectile {
            entity,
            owner: avatar.player,
            pos: avatar.pos,
            vel: to_grid(heading * params.projectile_step),
            ticks_left: params.lifetime_ticks,
        });
        avatar.last_shot = Some(*tick);
    }
}

/// Whether a position lies in the arena, walls included.
fn inside(pos: IVec2, max: IVec2) -> bool {
    pos.cmpge(IVec2::ZERO).all() && pos.cmple(max).all()
}

/// Rule 4: every projectile (those fired this tick too) moves by its
/// velocity and loses a tick of life; it despawns when its life reaches 0 or
/// it is outside the arena. This is exactly the schema's extrapolation for
/// one tick.
pub(super) fn move_projectiles(world: &mut World, params: &Params) {
    world.projectiles.retain_mut(|p| {
        p.pos = p.pos.saturating_add(p.vel);
        p.ticks_left = p.ticks_left.saturating_sub(1);
        p.ticks_left > 0 && inside(p.pos, params.max)
    });
}

/// Squared distance between two grid points, in (1/64 units)².
fn distance_sq(a: IVec2, b: IVec2) -> i64 {
    let dx = i64::from(a.x) - i64::from(b.x);
    let dy = i64::from(a.y) - i64::from(b.y);
    dx * dx + dy * dy
}

/// Rule 5: each projectile, in id order, hits the first player in player-id
/// order other than its owner within the hit radius. The projectile
/// despawns and the player loses the hit damage; a player left with no hp
/// respawns at a random position with full hp (keeping input, aim and
/// cooldown), and the shooter, if still seated, scores one. Each hit is
/// recorded in the world's hit list.
pub(super) fn resolve_hits(world: &mut World, params: &Params) {
    let World {
        avatars,
        projectiles,
        rng,
        hits,
        ..
    } = world;
    projectiles.retain(|p| {
        let Some(target) = avatars
            .iter_mut()
            .find(|a| a.player != p.owner && distance_sq(a.pos, p.pos) <= params.hit_radius_sq)
        else {
            return true;
        };
        target.hp = target.hp.saturating_sub(params.hit_damage);
        let respawned = target.hp <= 0;
        if respawned {
            target.hp = params.max_hp;
            target.pos = random_position(rng, params.max);
        }
        hits.push(Hit {
            projectile: p.entity,
            shooter: p.owner,
            target: target.player,
            respawned,
        });
        if respawned
            && let Ok(index) = avatars.binary_search_by_key(&p.owner, |a| a.player)
            && let Some(shooter) = avatars.get_mut(index)
        {
            shooter.score = shooter.score.saturating_add(1);
        }
        false
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::{Arena, ArenaConfig, PROJECTILE, SCHEMA};
    use crate::game::{Game, GameOptions};
    use crate::ids::{EntityId, PlayerId};
    use crate::snapshot::WorldSnapshot;
    use crate::tick::Tick;

    const A: PlayerId = PlayerId(1);
    const B: PlayerId = PlayerId(2);

    fn arena(players: &[PlayerId]) -> Arena {
        let mut arena =
            Arena::new(&ArenaConfig::default(), &GameOptions::default(), 1).expect("default arena");
        for &p in players {
            arena.seat(p).expect("join");
        }
        arena
    }

    fn input(
        player: PlayerId,
        move_x: f32,
        move_y: f32,
        aim: f32,
        fire: bool,
    ) -> PlayerInput<ArenaInput> {
        PlayerInput {
            player,
            input: ArenaInput {
                move_x,
                move_y,
                aim,
                fire,
            },
        }
    }

    fn place(arena: &mut Arena, player: PlayerId, pos: IVec2) {
        let index = arena.world.avatar_index(player).expect("seated");
        arena.world.avatars[index].pos = pos;
    }

    fn pos(arena: &Arena, player: PlayerId) -> IVec2 {
        let index = arena.world.avatar_index(player).expect("seated");
        arena.world.avatars[index].pos
    }

    /// Puts a projectile owned by `owner` at `at`, moving by `vel` per tick.
    fn shoot_at(
        arena: &mut Arena,
        owner: PlayerId,
        at: IVec2,
        vel: IVec2,
        ticks_left: i32,
    ) -> EntityId {
        let entity = allocate_entity(&mut arena.world.next_entity).expect("ids left");
        arena.world.projectiles.push(Projectile {
            entity,
            owner,
            pos: at,
            vel,
            ticks_left,
        });
        entity
    }

    fn snapshot(arena: &Arena) -> WorldSnapshot {
        let mut snap = WorldSnapshot::empty(Tick(0));
        arena.snapshot(&mut snap);
        assert_eq!(snap.finish(), Ok(()));
        snap
    }

    #[test]
    fn players_move_and_stop_at_the_walls() {
        let mut arena = arena(&[A]);
        place(&mut arena, A, IVec2::new(1000, 63_500));
        arena.advance(&[input(A, 1.0, 0.0, 0.0, false)]);
        // 200 units/s / 30 Hz * 64 = 426.67 steps.
        assert_eq!(pos(&arena, A), IVec2::new(1427, 63_500));
        arena.advance(&[input(A, -1.0, 1.0, 0.0, false)]);
        // Normalised to (-0.707, 0.707): 301.7 steps each way.
        assert_eq!(pos(&arena, A), IVec2::new(1125, 63_802));
        for _ in 0..10 {
            arena.advance(&[]); // the held input stays
        }
        assert_eq!(pos(&arena, A), IVec2::new(0, 64_000));
        let view = arena.player(A).expect("seated");
        assert_eq!(view.position, Vec2::new(0.0, 1000.0));
        assert!((view.velocity - Vec2::new(-141.5625, 141.5625)).length() < 1e-3);
        arena.advance(&[input(A, 0.0, 0.0, 0.0, false)]);
        assert_eq!(pos(&arena, A), IVec2::new(0, 64_000));
        assert_eq!(arena.player(A).map(|v| v.velocity), Some(Vec2::ZERO));
    }

    #[test]
    fn bad_inputs_are_rejected_and_long_moves_normalised() {
        let arena = arena(&[]);
        let base = ArenaInput::default();
        for bad in [
            ArenaInput {
                move_x: f32::NAN,
                ..base
            },
            ArenaInput {
                move_y: f32::INFINITY,
                ..base
            },
            ArenaInput {
                move_x: f32::NEG_INFINITY,
                ..base
            },
            ArenaInput {
                aim: f32::NAN,
                ..base
            },
            ArenaInput {
                aim: f32::INFINITY,
                ..base
            },
        ] {
            assert!(
                matches!(arena.validate_input(bad), Err(GameError::InvalidInput(_))),
                "{bad:?}"
            );
        }
        let long = ArenaInput {
            move_x: 3.0,
            move_y: -4.0,
            aim: 7.0,
            fire: true,
        };
        let fixed = arena.validate_input(long).expect("finite");
        assert!((fixed.move_x - 0.6).abs() < 1e-6 && (fixed.move_y + 0.8).abs() < 1e-6);
        assert_eq!(
            (fixed.aim, fixed.fire),
            (7.0, true),
            "aim and fire untouched"
        );
        assert_eq!(arena.validate_input(fixed), Ok(fixed), "idempotent");
        let huge = ArenaInput {
            move_x: f32::MAX,
            move_y: f32::MAX,
            ..base
        };
        let fixed = arena.validate_input(huge).expect("finite");
        assert!((fixed.move_x - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(fixed.move_x, fixed.move_y);
        let short = ArenaInput {
            move_x: 0.3,
            move_y: -0.4,
            ..base
        };
        assert_eq!(arena.validate_input(short), Ok(short));
        for x in [-1.0, 1.0] {
            for y in [-1.0, 0.0, 1.0] {
                let m = arena
                    .validate_input(ArenaInput {
                        move_x: x,
                        move_y: y,
                        ..base
                    })
                    .expect("ok");
                assert!(m.move_x.abs() <= 1.0 && m.move_y.abs() <= 1.0);
                assert!(Vec2::new(m.move_x, m.move_y).length() <= 1.0 + UNIT_SLACK);
                assert_eq!(arena.validate_input(m), Ok(m));
            }
        }
    }

    #[test]
    fn an_invalid_input_reaching_step_keeps_the_previous_one() {
        let mut arena = arena(&[A]);
        place(&mut arena, A, IVec2::new(32_000, 32_000));
        arena.advance(&[input(A, 1.0, 0.0, 0.0, false)]);
        arena.advance(&[
            input(A, f32::NAN, 0.0, 0.0, false),
            input(PlayerId(77), 1.0, 1.0, 0.0, true),
        ]);
        assert_eq!(pos(&arena, A), IVec2::new(32_000 + 2 * 427, 32_000));
        assert_eq!(arena.projectiles().count(), 0);
    }

    #[test]
    fn the_fire_cooldown_allows_two_shots_in_a_second() {
        let mut arena = arena(&[A]);
        place(&mut arena, A, IVec2::new(32_000, 32_000));
        let mut ids = std::collections::BTreeSet::new();
        let mut spawned_at = Vec::new();
        for tick in 0..30 {
            arena.advance(&[input(A, 0.0, 0.0, std::f32::consts::FRAC_PI_2, true)]);
            for p in arena.projectiles() {
                if ids.insert(p.entity) {
                    spawned_at.push(tick);
                    assert_eq!(p.owner, A);
                }
            }
        }
        assert_eq!(spawned_at, [0, 15]);
        // Straight up at 600 units/s: 20 units per tick.
        let first = arena.world.projectiles.first().copied().expect("in flight");
        assert_eq!(first.vel, IVec2::new(0, 1280));
    }

    #[test]
    fn projectiles_expire_after_their_lifetime_or_on_leaving() {
        let mut arena = arena(&[A]);
        place(&mut arena, A, IVec2::new(100, 100));
        let slow = shoot_at(
            &mut arena,
            A,
            IVec2::new(32_000, 32_000),
            IVec2::new(1, 0),
            30,
        );
        let fast = shoot_at(
            &mut arena,
            A,
            IVec2::new(63_000, 32_000),
            IVec2::new(0, 0),
            30,
        );
        arena.world.projectiles[1].vel = IVec2::new(1000, 0);
        let alive = |arena: &Arena, id| arena.projectiles().any(|p| p.entity == id);
        for tick in 1..=29 {
            let before = snapshot(&arena);
            arena.advance(&[]);
            let after = snapshot(&arena);
            let predicted: Vec<_> = before
                .entities()
                .iter()
                .filter_map(|e| SCHEMA.extrapolate_entity(e, 1))
                .collect();
            assert_eq!(predicted, after.entities(), "tick {tick}");
            assert!(alive(&arena, slow), "alive after {tick} ticks");
            assert_eq!(alive(&arena, fast), tick == 1, "leaves on the second move");
        }
        arena.advance(&[]);
        assert!(!alive(&arena, slow), "gone after 30 ticks");
        assert!(
            snapshot(&arena)
                .entities()
                .iter()
                .all(|e| e.kind != PROJECTILE)
        );
    }

    #[test]
    fn a_fired_projectile_lives_30_ticks_and_is_first_seen_moved() {
        let mut arena = arena(&[A]);
        place(&mut arena, A, IVec2::new(32_000, 32_000));
        arena.advance(&[input(A, 0.0, 0.0, 0.0, true)]);
        let p = arena.projectiles().next().expect("fired");
        assert_eq!(p.ticks_left, 29);
        assert_eq!(p.position, Vec2::new(520.0, 500.0));
        assert_eq!(p.velocity, Vec2::new(600.0, 0.0));
        arena.advance(&[input(A, 0.0, 0.0, 0.0, false)]);
        for _ in 0..23 {
            arena.advance(&[]);
        }
        assert_eq!(
            arena.projectiles().next().map(|p| p.position.x),
            Some(1000.0)
        );
        arena.advance(&[]);
        assert_eq!(arena.projectiles().count(), 0, "left the arena at x = 1020");
    }

    #[test]
    fn a_projectile_hits_others_but_not_its_owner() {
        let mut arena = arena(&[A, B]);
        place(&mut arena, A, IVec2::new(10_000, 10_000));
        place(&mut arena, B, IVec2::new(50_000, 50_000));
        // B's own projectile on B: no hit.
        let own = shoot_at(&mut arena, B, IVec2::new(50_000, 50_000), IVec2::ZERO, 30);
        // A's projectile one step outside the radius after moving...
        let miss = shoot_at(
            &mut arena,
            A,
            IVec2::new(50_000 + 1025, 50_000),
            IVec2::ZERO,
            30,
        );
        // ...and one exactly on it.
        let hit = shoot_at(
            &mut arena,
            A,
            IVec2::new(50_000 - 1024, 50_000),
            IVec2::ZERO,
            30,
        );
        arena.advance(&[]);
        assert_eq!(arena.player(B).map(|p| p.hp), Some(90));
        assert_eq!(arena.player(A).map(|p| p.hp), Some(100));
        let left: Vec<_> = arena.projectiles().map(|p| p.entity).collect();
        assert_eq!(left, [own, miss]);
        assert_eq!(
            arena.hits(),
            [Hit {
                projectile: hit,
                shooter: A,
                target: B,
                respawned: false
            }]
        );
        arena.advance(&[]);
        assert!(arena.hits().is_empty(), "hits are per step");
    }

    #[test]
    fn ten_hits_respawn_the_target_and_score_the_shooter() {
        let mut arena = arena(&[A, B]);
        place(&mut arena, A, IVec2::new(10_000, 10_000));
        let spot = IVec2::new(50_000, 50_000);
        place(&mut arena, B, spot);
        for hit in 1..=10 {
            shoot_at(&mut arena, A, spot, IVec2::ZERO, 30);
            arena.advance(&[]);
            let b = arena.player(B).expect("seated");
            if hit < 10 {
                assert_eq!(b.hp, 100 - 10 * hit);
                assert_eq!(pos(&arena, B), spot);
            } else {
                assert_eq!(b.hp, 100);
                assert_ne!(pos(&arena, B), spot, "respawned elsewhere");
                assert!(arena.hits()[0].respawned);
            }
        }
        assert_eq!(arena.player(A).map(|a| a.score), Some(1));
        assert_eq!(arena.player(B).map(|b| b.score), Some(0));
    }

    #[test]
    fn a_kill_by_a_departed_shooter_scores_nobody() {
        let mut arena = arena(&[A, B]);
        place(&mut arena, A, IVec2::new(10_000, 10_000));
        place(&mut arena, B, IVec2::new(50_000, 50_000));
        for _ in 0..10 {
            shoot_at(&mut arena, A, IVec2::new(50_000, 50_000), IVec2::ZERO, 30);
        }
        arena.unseat(A);
        arena.advance(&[]);
        assert_eq!(
            arena.hits().len(),
            10,
            "the projectiles outlive their owner"
        );
        assert_eq!(arena.player(B).map(|b| (b.hp, b.score)), Some((100, 0)));
        assert_eq!(arena.players().count(), 1);
    }

    #[test]
    fn joining_twice_is_refused_and_leaving_removes_the_avatar() {
        let mut arena = arena(&[B, A]);
        assert_eq!(
            arena.seat(A),
            Err(GameError::JoinRefused("already seated".into()))
        );
        let ids: Vec<_> = arena.players().map(|p| (p.player, p.entity)).collect();
        assert_eq!(
            ids,
            [(A, EntityId(2)), (B, EntityId(1))],
            "by player id, ids by join order"
        );
        place(&mut arena, A, IVec2::new(32_000, 32_000));
        arena.advance(&[input(A, 0.0, 0.0, 0.0, true)]);
        arena.unseat(A);
        arena.unseat(A); // leaving twice is harmless
        assert!(arena.player(A).is_none());
        assert_eq!(arena.players().count(), 1);
        assert_eq!(
            arena.projectiles().map(|p| p.owner).collect::<Vec<_>>(),
            [A]
        );
        arena.advance(&[input(A, 1.0, 0.0, 0.0, true)]);
        assert_eq!(
            arena.projectiles().count(),
            1,
            "an unseated player's input is ignored"
        );
        arena.seat(A).expect("a player may come back");
        assert_eq!(
            arena.player(A).map(|p| (p.entity, p.hp)),
            Some((EntityId(4), 100))
        );
    }
}
