//! A complete custom game server: the README's "Write a game" example.
//! `cargo run -p tickwire-server-cli --example clicker -- --bind 127.0.0.1:7000`

use serde::{Deserialize, Serialize};
use tickwire_server_cli::Launcher;
use tickwire_shared::game::*;
use tickwire_shared::ids::{EntityId, PlayerId};
use tickwire_shared::protocol::Role;
use tickwire_shared::schema::{FieldSchema, KindSchema, Schema};
use tickwire_shared::snapshot::{EntityKind, EntityState, WorldSnapshot};
use tickwire_shared::tick::TickRate;

/// Players race to a hundred clicks; whoever gets there wins the round.
#[derive(Debug, Default)]
struct Clicker {
    scores: Vec<(PlayerId, i32)>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Click(bool);

#[derive(Serialize)]
struct Won<'a> {
    winner: u32,
    name: &'a str,
}

impl Game for Clicker {
    type Input = Click;
    type Config = ();
    const NAME: &'static str = "clicker";
    const SCHEMA: Schema = Schema {
        kinds: &[KindSchema {
            name: "score",
            fields: &[FieldSchema {
                name: "points",
                absolute_order: 4,
                change_order: 1,
            }],
            motion: None,
            lifetime: None,
        }],
    };

    fn new(_: &(), options: &GameOptions, _seed: u64) -> Result<Self, GameError> {
        options.reject_unknown(&[])?;
        Ok(Self::default())
    }
    fn tick_rate(&self) -> TickRate {
        TickRate::ARENA
    }
    fn validate_input(&self, input: Click) -> Result<Click, GameError> {
        Ok(input)
    }
    fn join(&mut self, ctx: &mut RoomContext<'_>, join: &JoinRequest<'_>) -> Result<(), GameError> {
        if join.role == Role::Player {
            if self.scores.len() >= 8 {
                return Err(GameError::JoinRefused("the race is full".into()));
            }
            self.scores.push((join.player, 0));
            ctx.set_metadata("racers", self.scores.len().to_string())
                .ok();
        }
        ctx.emit(Audience::One(join.player), "welcome", "first to 100 wins")
            .ok();
        Ok(())
    }
    fn leave(&mut self, _: &mut RoomContext<'_>, player: PlayerId, _: Role, _: LeaveCause) {
        self.scores.retain(|(p, _)| *p != player);
    }
    fn event(&mut self, ctx: &mut RoomContext<'_>, event: Event) {
        match (event.name.as_str(), event.answer) {
            ("score?", Some(to)) => {
                let score = self
                    .scores
                    .iter()
                    .find(|(p, _)| *p == event.from)
                    .map(|s| s.1);
                ctx.answer(to, &score);
            }
            (_, Some(to)) => ctx.answer_error(to, "unknown event"),
            _ => {}
        }
    }
    fn step(&mut self, ctx: &mut RoomContext<'_>, inputs: &[PlayerInput<Click>]) {
        for input in inputs.iter().filter(|i| i.input.0) {
            if let Some(score) = self.scores.iter_mut().find(|(p, _)| *p == input.player) {
                score.1 += 1;
                if score.1 == 100 {
                    let name = ctx.members().get(&input.player).map(|m| m.name.clone());
                    let won = Won {
                        winner: input.player.0,
                        name: name.as_deref().unwrap_or("?"),
                    };
                    ctx.emit(Audience::All, "won", &won).ok();
                    self.scores.iter_mut().for_each(|s| s.1 = 0);
                    break;
                }
            }
        }
    }
    fn snapshot(&self, out: &mut WorldSnapshot) {
        for (player, points) in &self.scores {
            out.push(EntityState::new(
                EntityId(player.0),
                EntityKind(0),
                &[*points],
            ));
        }
    }
}

fn main() -> anyhow::Result<()> {
    Launcher::from_args().game::<Clicker>(()).run()
}
