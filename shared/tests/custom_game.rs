//! A second, tiny game written against the `Game` trait, to show the trait is
//! not arena-shaped: no positions, no motion, a seat limit, options, and an
//! entity that is not a player. It is driven through the same delta codec
//! and client replica as the arena.

use tickwire_shared::client::Replica;
use tickwire_shared::codec;
use tickwire_shared::delta::DeltaEncoder;
use tickwire_shared::game::{
    EventLimits, Game, GameError, GameOptions, JoinRequest, LeaveCause, PlayerInput, RoomActions,
    RoomContext,
};
use tickwire_shared::ids::{EntityId, PlayerId};
use tickwire_shared::protocol::{Role, ServerMessage, Update};
use tickwire_shared::schema::{FieldSchema, KindSchema, Schema};
use tickwire_shared::snapshot::{EntityKind, EntityState, WorldSnapshot};
use tickwire_shared::tick::{Tick, TickRate};

/// "Tally": every player votes +1 / -1 / 0 each tick; the tally entity sums
/// the votes, and the round ends (tally reset, round counter up) when it
/// reaches the target either way.
#[derive(Debug)]
struct Tally {
    target: i32,
    seats: usize,
    voters: Vec<(PlayerId, i32)>,
    tally: i32,
    round: i32,
}

const FIELD: FieldSchema = FieldSchema {
    name: "value",
    absolute_order: 2,
    change_order: 1,
};

impl Game for Tally {
    type Input = i8;
    type Config = ();
    const NAME: &'static str = "tally";
    const SCHEMA: Schema = Schema {
        kinds: &[
            KindSchema {
                name: "voter",
                fields: &[FIELD, FIELD],
                motion: None,
                lifetime: None,
            },
            KindSchema {
                name: "tally",
                fields: &[FIELD, FIELD],
                motion: None,
                lifetime: None,
            },
        ],
    };

    fn new(_: &(), options: &GameOptions, _seed: u64) -> Result<Self, GameError> {
        options.reject_unknown(&["target", "seats"])?;
        let target = options.parse("target")?.unwrap_or(20);
        let seats = options.parse("seats")?.unwrap_or(3);
        if target <= 0 {
            return Err(GameError::BadOption {
                key: "target".into(),
                reason: "must be positive".into(),
            });
        }
        Ok(Self {
            target,
            seats,
            voters: Vec::new(),
            tally: 0,
            round: 0,
        })
    }

    fn tick_rate(&self) -> TickRate {
        TickRate::new(10).expect("10 Hz is valid")
    }

    fn validate_input(&self, vote: i8) -> Result<i8, GameError> {
        if (-1..=1).contains(&vote) {
            Ok(vote)
        } else {
            Err(GameError::InvalidInput("a vote is -1, 0 or 1"))
        }
    }

    fn join(&mut self, _: &mut RoomContext<'_>, join: &JoinRequest<'_>) -> Result<(), GameError> {
        if join.role == Role::Spectator {
            return Ok(());
        }
        if self.voters.len() >= self.seats {
            return Err(GameError::JoinRefused("all seats taken".into()));
        }
        self.voters.push((join.player, 0));
        Ok(())
    }

    fn leave(&mut self, _: &mut RoomContext<'_>, player: PlayerId, _: Role, _: LeaveCause) {
        self.voters.retain(|(p, _)| *p != player);
    }

    fn step(&mut self, _: &mut RoomContext<'_>, inputs: &[PlayerInput<i8>]) {
        for input in inputs {
            if let Some(voter) = self.voters.iter_mut().find(|(p, _)| *p == input.player) {
                voter.1 += i32::from(input.input);
                self.tally += i32::from(input.input);
            }
        }
        if self.tally.abs() >= self.target {
            self.tally = 0;
            self.round += 1;
        }
    }

    fn snapshot(&self, out: &mut WorldSnapshot) {
        out.push(EntityState::new(
            EntityId(0),
            EntityKind(1),
            &[self.tally, self.round],
        ));
        for (player, votes) in &self.voters {
            out.push(EntityState::new(
                EntityId(1 + player.0),
                EntityKind(0),
                &[player.0 as i32, *votes],
            ));
        }
    }
}

/// Runs `hook` with a context on a room with no member, as a host would.
fn with_ctx<R>(tick: u32, hook: impl FnOnce(&mut RoomContext<'_>) -> R) -> R {
    let mut room = RoomActions::new(EventLimits::default());
    let rate = TickRate::new(10).expect("10 Hz");
    hook(&mut RoomContext::new(Tick(tick), rate, &mut room))
}

/// Seats `player` in `game` through its join hook.
fn seat<G: Game>(game: &mut G, player: PlayerId) -> Result<(), GameError> {
    let options = GameOptions::default();
    let request = JoinRequest {
        player,
        name: "voter",
        role: Role::Player,
        options: &options,
        identity: None,
    };
    with_ctx(0, |ctx| game.join(ctx, &request))
}

/// Steps any game with scripted inputs and follows it with a replica over
/// encoded update frames, delta against the previous tick; returns the
/// number of updates checked.
fn replicate<G: Game>(
    game: &mut G,
    ticks: u32,
    input_for: impl Fn(u32, PlayerId) -> G::Input,
    players: &[PlayerId],
) -> u32 {
    let mut replica = Replica::new(G::SCHEMA);
    let mut encoder = DeltaEncoder::new();
    let mut previous: Option<WorldSnapshot> = None;
    for t in 0..ticks {
        let inputs: Vec<_> = players
            .iter()
            .map(|&player| PlayerInput {
                player,
                input: game.validate_input(input_for(t, player)).expect("valid"),
            })
            .collect();
        with_ctx(t, |ctx| game.step(ctx, &inputs));
        let mut world = WorldSnapshot::empty(Tick(t));
        game.snapshot(&mut world);
        world.finish().expect("unique ids");

        let mut frame = Vec::new();
        let baseline = previous.as_ref();
        codec::encode_update_header(
            world.tick,
            baseline.map(|b| b.tick),
            0,
            world.checksum(),
            &mut frame,
        )
        .unwrap();
        encoder
            .encode(&G::SCHEMA, baseline, &world, &mut frame)
            .expect("encodes");
        let Ok(ServerMessage::Update(update)) =
            codec::decode_server(&frame, codec::MAX_SERVER_FRAME)
        else {
            panic!("update frame did not decode");
        };
        let rebuilt: &WorldSnapshot = replica.apply(&update).expect("replica follows");
        assert_eq!(rebuilt, &world);
        previous = Some(world);
    }
    ticks
}

#[test]
fn tally_runs_through_the_game_trait_and_replicates() {
    assert!(Tally::SCHEMA.validate().is_ok());
    let mut game = Tally::new(&(), &GameOptions::default(), 1).expect("defaults");
    let players = [PlayerId(4), PlayerId(9)];
    for p in players {
        seat(&mut game, p).expect("seat");
    }
    let checked = replicate(
        &mut game,
        200,
        |t, p| if (t + p.0) % 3 == 0 { 1 } else { 0 },
        &players,
    );
    assert_eq!(checked, 200);
    assert!(game.round > 0, "rounds completed");
}

#[test]
fn tally_refuses_what_it_should() {
    let opts = |k: &str, v: &str| GameOptions([(k.to_owned(), v.to_owned())].into());
    assert!(matches!(
        Tally::new(&(), &opts("colour", "red"), 1),
        Err(GameError::BadOption { .. })
    ));
    assert!(matches!(
        Tally::new(&(), &opts("target", "-3"), 1),
        Err(GameError::BadOption { .. })
    ));
    assert!(matches!(
        Tally::new(&(), &opts("target", "many"), 1),
        Err(GameError::BadOption { .. })
    ));
    let mut game = Tally::new(&(), &opts("seats", "1"), 1).expect("valid");
    seat(&mut game, PlayerId(1)).expect("first seat");
    assert!(matches!(
        seat(&mut game, PlayerId(2)),
        Err(GameError::JoinRefused(_))
    ));
    assert!(game.validate_input(5).is_err());
}

#[test]
fn a_stale_update_is_refused_by_the_replica() {
    let mut replica = Replica::new(Tally::SCHEMA);
    let mut world = WorldSnapshot::empty(Tick(5));
    world.push(EntityState::new(EntityId(0), EntityKind(1), &[1, 2]));
    world.finish().unwrap();
    let delta = tickwire_shared::delta::encode(&Tally::SCHEMA, None, &world).unwrap();
    let update = Update {
        tick: Tick(5),
        baseline: None,
        lateness_us: 0,
        checksum: world.checksum(),
        delta,
    };
    replica.apply(&update).expect("first");
    assert!(replica.apply(&update).is_err(), "same tick again is stale");
}
