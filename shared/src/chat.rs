//! "chat", the second built-in game: a chat room whose life is events, not
//! inputs. It shows the game API beyond the fixed step: join refused with a
//! reason (a wrong password), what members say relayed by the game itself,
//! answers and errors, whispers to one member, an owner who kicks, locks,
//! sets the topic (room metadata that listings filter on) and closes the
//! room, and polls that ask every player for an answer within a timeout.
//!
//! # Events (JSON data)
//!
//! | client sends | data | the game does | answer |
//! | --- | --- | --- | --- |
//! | `say` | [`Say`] | emits `said` ([`Said`]) to every member | `{"seq": n}` |
//! | `whisper` | [`Whisper`] | emits `whispered` ([`Said`]) to that member | `{"seq": n}` |
//! | `kick` | [`KickRequest`] | kicks the member (owner only) | `true` |
//! | `lock` / `unlock` | none | locks or unlocks the room (owner only) | `true` |
//! | `topic` | [`Topic`] | sets metadata `topic` (owner only) | `true` |
//! | `poll` | [`PollRequest`] | emits `vote` to every player, expecting an answer (`true`/`false`) within `timeout_ms`; then `poll_result` ([`PollResult`]) to every member | `{"poll": n}` |
//! | `close` | none | closes the room (owner only) | `true` |
//!
//! The game also emits `member_joined` / `member_left` ([`Presence`]) to
//! the others, `member_dropped` / `member_back` when a member's connection
//! drops and it resumes its seat, and `welcome` (the topic) to a newcomer. Refusals are answered with an error. Spectators read and
//! may not send events (the default).
//!
//! # Options
//!
//! Room: `topic` (metadata `topic`, default `"general"`), `password` (a
//! join must give the same join option `password`). The first player to
//! join is the owner; when the owner leaves, the oldest player left is.
//!
//! # World
//!
//! One entity per member: its player id, role (0 player, 1 spectator),
//! messages said and whether it owns the room; the game steps at 10 Hz and
//! does nothing in its step.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::game::{
    Answer, AnswerTo, Audience, EmitId, Event, Game, GameError, GameOptions, JoinRequest,
    LeaveCause, PlayerInput, RoomContext,
};
use crate::ids::{EntityId, PlayerId};
use crate::protocol::Role;
use crate::schema::{FieldSchema, KindSchema, Schema};
use crate::snapshot::{EntityKind, EntityState, WorldSnapshot};
use crate::tick::TickRate;

/// Longest message, bytes.
pub const MAX_TEXT: usize = 280;
/// Longest topic, bytes (a metadata value's limit).
pub const MAX_TOPIC: usize = 128;
/// Longest poll, from asking to the result.
pub const MAX_POLL: Duration = Duration::from_secs(60);

/// `say`: a message for everyone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Say {
    /// 1..=280 bytes.
    pub text: String,
}

/// `whisper`: a message for one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whisper {
    /// The member's player id.
    pub to: u32,
    /// 1..=280 bytes.
    pub text: String,
}

/// `said` and `whispered`: what a member said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    /// The room's message number.
    pub seq: u64,
    /// Who said it.
    pub from: u32,
    /// Their name.
    pub name: String,
    /// What.
    pub text: String,
}

/// `kick`: who, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KickRequest {
    /// The member's player id.
    pub player: u32,
    /// What they are told.
    pub reason: String,
}

/// `topic`: the room's new topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// 0..=128 bytes.
    pub topic: String,
}

/// `poll`: a yes/no question for every player.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollRequest {
    /// The question.
    pub question: String,
    /// How long players have to answer, at most 60 000.
    pub timeout_ms: u64,
}

/// `vote` (emitted, expecting `true` or `false`): the question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The poll's number.
    pub poll: u64,
    /// The question.
    pub question: String,
}

/// `poll_result`: how a poll went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollResult {
    /// The poll's number.
    pub poll: u64,
    /// Players who answered `true`.
    pub yes: u32,
    /// Players who answered `false`.
    pub no: u32,
    /// Players who did not answer in time, answered something else, or
    /// left.
    pub silent: u32,
}

/// `member_joined` and `member_left`: who came or went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The member's player id.
    pub player: u32,
    /// Their name.
    pub name: String,
    /// For `member_left`: why (`left`, `disconnected`, `kicked`,
    /// `timed_out`, `room_closed`); empty for `member_joined`.
    pub cause: String,
    /// For `member_joined`: the verified account (the token's subject)
    /// when the server authenticates clients; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

#[derive(Debug)]
struct Member {
    role: Role,
    name: String,
    said: u32,
}

#[derive(Debug)]
struct Poll {
    waiting: BTreeSet<EmitId>,
    result: PollResult,
}

/// The chat game. See the module doc.
#[derive(Debug)]
pub struct Chat {
    password: Option<String>,
    topic: String,
    members: BTreeMap<PlayerId, Member>,
    /// Players in the order they joined; the first is the owner.
    seats: Vec<PlayerId>,
    next_seq: u64,
    polls: BTreeMap<u64, Poll>,
    next_poll: u64,
}

const FIELD: FieldSchema = FieldSchema {
    name: "value",
    absolute_order: 4,
    change_order: 0,
};

/// The chat world's layout: one kind, "member" (player, role, said, owner).
pub const SCHEMA: Schema = Schema {
    kinds: &[KindSchema {
        name: "member",
        fields: &[
            FieldSchema {
                name: "player",
                absolute_order: 8,
                change_order: 0,
            },
            FIELD,
            FIELD,
            FIELD,
        ],
        motion: None,
        lifetime: None,
    }],
};

impl Chat {
    /// The owner: the player who joined first among those still here.
    pub fn owner(&self) -> Option<PlayerId> {
        self.seats.first().copied()
    }

    fn said(&mut self, from: PlayerId, text: String) -> Result<Said, String> {
        if text.trim().is_empty() || text.len() > MAX_TEXT {
            return Err(format!("messages are 1..={MAX_TEXT} bytes"));
        }
        let member = self
            .members
            .get_mut(&from)
            .ok_or_else(|| "not a member".to_owned())?;
        member.said += 1;
        self.next_seq += 1;
        Ok(Said {
            seq: self.next_seq,
            from: from.0,
            name: member.name.clone(),
            text,
        })
    }

    /// Handles one event; `Ok` is the answer's data, `Err` its error.
    fn handle(
        &mut self,
        ctx: &mut RoomContext<'_>,
        event: &Event,
    ) -> Result<serde_json::Value, String> {
        let owner_only = || {
            if self.owner() == Some(event.from) {
                Ok(())
            } else {
                Err(format!("only the owner may {}", event.name))
            }
        };
        let emit_error = |e: crate::game::EmitError| e.to_string();
        match event.name.as_str() {
            "say" => {
                let say: Say = event.json().map_err(|e| e.to_string())?;
                let said = self.said(event.from, say.text)?;
                ctx.emit(Audience::All, "said", &said).map_err(emit_error)?;
                Ok(serde_json::json!({ "seq": said.seq }))
            }
            "whisper" => {
                let whisper: Whisper = event.json().map_err(|e| e.to_string())?;
                let to = PlayerId(whisper.to);
                if !self.members.contains_key(&to) {
                    return Err(format!("no member {to}"));
                }
                let said = self.said(event.from, whisper.text)?;
                ctx.emit(Audience::One(to), "whispered", &said)
                    .map_err(emit_error)?;
                Ok(serde_json::json!({ "seq": said.seq }))
            }
            "kick" => {
                owner_only()?;
                let kick: KickRequest = event.json().map_err(|e| e.to_string())?;
                let player = PlayerId(kick.player);
                if !self.members.contains_key(&player) || player == event.from {
                    return Err(format!("cannot kick {player}"));
                }
                ctx.kick(player, kick.reason);
                Ok(serde_json::Value::Bool(true))
            }
            "lock" => {
                owner_only()?;
                ctx.lock();
                Ok(serde_json::Value::Bool(true))
            }
            "unlock" => {
                owner_only()?;
                ctx.unlock();
                Ok(serde_json::Value::Bool(true))
            }
            "topic" => {
                owner_only()?;
                let topic: Topic = event.json().map_err(|e| e.to_string())?;
                if topic.topic.len() > MAX_TOPIC {
                    return Err(format!("topics are at most {MAX_TOPIC} bytes"));
                }
                ctx.set_metadata("topic", topic.topic.clone())
                    .map_err(emit_error)?;
                self.topic = topic.topic;
                Ok(serde_json::Value::Bool(true))
            }
            "poll" => {
                owner_only()?;
                let request: PollRequest = event.json().map_err(|e| e.to_string())?;
                let timeout = Duration::from_millis(request.timeout_ms);
                if timeout.is_zero() || timeout > MAX_POLL {
                    return Err(format!("a poll lasts 1..={} ms", MAX_POLL.as_millis()));
                }
                self.next_poll += 1;
                let poll = self.next_poll;
                let vote = Vote {
                    poll,
                    question: request.question,
                };
                let mut waiting = BTreeSet::new();
                let mut silent = 0;
                for (&player, member) in &self.members {
                    if member.role != Role::Player {
                        continue;
                    }
                    match ctx.emit_with_answer(player, "vote", &vote, timeout) {
                        Ok(id) => {
                            waiting.insert(id);
                        }
                        Err(_) => silent += 1,
                    }
                }
                let result = PollResult {
                    poll,
                    yes: 0,
                    no: 0,
                    silent,
                };
                self.polls.insert(poll, Poll { waiting, result });
                self.finish_polls(ctx);
                Ok(serde_json::json!({ "poll": poll }))
            }
            "close" => {
                owner_only()?;
                ctx.close(format!("closed by {}", event.from));
                Ok(serde_json::Value::Bool(true))
            }
            other => Err(format!("chat has no event {other:?}")),
        }
    }

    /// Tells every member but `player` that it dropped or came back.
    fn tell_others(&self, ctx: &mut RoomContext<'_>, player: PlayerId, event: &str, cause: &str) {
        let presence = Presence {
            player: player.0,
            name: self
                .members
                .get(&player)
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            cause: cause.into(),
            account: None,
        };
        let _ = ctx.emit(Audience::AllBut(player), event, &presence);
    }

    /// Announces the result of every poll no longer waiting for anyone.
    fn finish_polls(&mut self, ctx: &mut RoomContext<'_>) {
        let done: Vec<u64> = self
            .polls
            .iter()
            .filter(|(_, p)| p.waiting.is_empty())
            .map(|(&n, _)| n)
            .collect();
        for n in done {
            if let Some(poll) = self.polls.remove(&n) {
                // Refused only over the byte budget; the result is then lost,
                // which the room counts.
                let _ = ctx.emit(Audience::All, "poll_result", &poll.result);
            }
        }
    }
}

impl Game for Chat {
    type Input = ();
    type Config = ();
    const NAME: &'static str = "chat";
    const SCHEMA: Schema = SCHEMA;

    fn new(_: &(), options: &GameOptions, _seed: u64) -> Result<Self, GameError> {
        options.reject_unknown(&["topic", "password"])?;
        let topic: String = options.parse("topic")?.unwrap_or_else(|| "general".into());
        if topic.len() > MAX_TOPIC {
            return Err(GameError::BadOption {
                key: "topic".into(),
                reason: format!("at most {MAX_TOPIC} bytes"),
            });
        }
        Ok(Self {
            password: options.parse("password")?,
            topic,
            members: BTreeMap::new(),
            seats: Vec::new(),
            next_seq: 0,
            polls: BTreeMap::new(),
            next_poll: 0,
        })
    }

    fn tick_rate(&self) -> TickRate {
        TickRate::new(10).unwrap_or(TickRate::ARENA)
    }

    fn validate_input(&self, input: ()) -> Result<(), GameError> {
        Ok(input)
    }

    fn created(&mut self, ctx: &mut RoomContext<'_>) {
        // Bounded by the option check in `new`: cannot be refused.
        let _ = ctx.set_metadata("topic", self.topic.clone());
    }

    fn join(&mut self, ctx: &mut RoomContext<'_>, join: &JoinRequest<'_>) -> Result<(), GameError> {
        if let Some(password) = &self.password
            && join.options.0.get("password") != Some(password)
        {
            return Err(GameError::JoinRefused("wrong password".into()));
        }
        self.members.insert(
            join.player,
            Member {
                role: join.role,
                name: join.name.to_owned(),
                said: 0,
            },
        );
        if join.role == Role::Player {
            self.seats.push(join.player);
        }
        let presence = Presence {
            player: join.player.0,
            name: join.name.to_owned(),
            cause: String::new(),
            account: join.identity.map(|identity| identity.subject.clone()),
        };
        let _ = ctx.emit(Audience::AllBut(join.player), "member_joined", &presence);
        let _ = ctx.emit(Audience::One(join.player), "welcome", &self.topic);
        Ok(())
    }

    fn leave(&mut self, ctx: &mut RoomContext<'_>, player: PlayerId, _: Role, cause: LeaveCause) {
        let Some(member) = self.members.remove(&player) else {
            return;
        };
        self.seats.retain(|&p| p != player);
        let presence = Presence {
            player: player.0,
            name: member.name,
            cause: cause.label().to_owned(),
            account: None,
        };
        let _ = ctx.emit(Audience::All, "member_left", &presence);
    }

    fn dropped(&mut self, ctx: &mut RoomContext<'_>, player: PlayerId) {
        self.tell_others(ctx, player, "member_dropped", "dropped");
    }

    fn reconnected(&mut self, ctx: &mut RoomContext<'_>, player: PlayerId) {
        self.tell_others(ctx, player, "member_back", "");
    }

    fn event(&mut self, ctx: &mut RoomContext<'_>, event: Event) {
        let result = self.handle(ctx, &event);
        let Some(to): Option<AnswerTo> = event.answer else {
            return;
        };
        match result {
            Ok(data) => ctx.answer(to, &data),
            Err(message) => ctx.answer_error(to, message),
        }
    }

    fn answer(&mut self, ctx: &mut RoomContext<'_>, answer: Answer) {
        let Some(poll) = self
            .polls
            .values_mut()
            .find(|p| p.waiting.contains(&answer.id))
        else {
            return;
        };
        poll.waiting.remove(&answer.id);
        // No answer in time, a member gone, an error or anything but a
        // boolean: silent.
        match answer.outcome.json::<bool>() {
            Some(Ok(true)) => poll.result.yes += 1,
            Some(Ok(false)) => poll.result.no += 1,
            _ => poll.result.silent += 1,
        }
        self.finish_polls(ctx);
    }

    fn step(&mut self, _: &mut RoomContext<'_>, _: &[PlayerInput<()>]) {}

    fn snapshot(&self, out: &mut WorldSnapshot) {
        let owner = self.owner();
        for (&player, member) in &self.members {
            out.push(EntityState::new(
                EntityId(player.0),
                EntityKind(0),
                &[
                    player.0 as i32,
                    i32::from(member.role == Role::Spectator),
                    member.said as i32,
                    i32::from(owner == Some(player)),
                ],
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::{AnswerOutcome, EventLimits, RoomAction, RoomActions};
    use crate::protocol::{EventOutcome, RoomEvent};
    use crate::tick::Tick;

    struct Host {
        chat: Chat,
        room: RoomActions,
        tick: u32,
    }

    impl Host {
        fn new(options: &[(&str, &str)]) -> Self {
            let options = GameOptions(
                options
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            );
            let mut host = Self {
                chat: Chat::new(&(), &options, 1).expect("options"),
                room: RoomActions::new(EventLimits::default()),
                tick: 0,
            };
            host.with(|chat, ctx| chat.created(ctx));
            host
        }

        fn with<R>(&mut self, f: impl FnOnce(&mut Chat, &mut RoomContext<'_>) -> R) -> R {
            let rate = self.chat.tick_rate();
            let mut ctx = RoomContext::new(Tick(self.tick), rate, &mut self.room);
            f(&mut self.chat, &mut ctx)
        }

        fn join(&mut self, id: u32, role: Role, password: Option<&str>) -> Result<(), GameError> {
            let options = GameOptions(
                password
                    .map(|p| [("password".to_owned(), p.to_owned())].into())
                    .unwrap_or_default(),
            );
            let request = JoinRequest {
                player: PlayerId(id),
                name: "n",
                role,
                options: &options,
                identity: None,
            };
            let joined = self.with(|chat, ctx| chat.join(ctx, &request));
            if joined.is_ok() {
                self.room.add_member(
                    PlayerId(id),
                    crate::game::MemberInfo {
                        role,
                        name: "n".into(),
                    },
                );
            }
            joined
        }

        fn send(&mut self, from: u32, name: &str, data: serde_json::Value) {
            let event = Event {
                from: PlayerId(from),
                role: Role::Player,
                name: name.into(),
                data: serde_json::to_vec(&data).unwrap(),
                answer: Some(AnswerTo {
                    player: PlayerId(from),
                    ack_id: 1,
                }),
            };
            self.with(|chat, ctx| chat.event(ctx, event));
        }

        fn actions(&mut self) -> Vec<RoomAction> {
            std::iter::from_fn(|| self.room.pop()).collect()
        }
    }

    fn emitted(actions: &[RoomAction]) -> Vec<(Audience, RoomEvent)> {
        actions
            .iter()
            .filter_map(|a| match a {
                RoomAction::Emit { to, event, .. } => Some((*to, event.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_topic_is_metadata_and_a_password_refuses_joins() {
        let mut host = Host::new(&[("topic", "rust"), ("password", "pw")]);
        assert_eq!(host.room.metadata()["topic"], "rust");
        assert_eq!(
            host.join(1, Role::Player, Some("nope")),
            Err(GameError::JoinRefused("wrong password".into()))
        );
        assert!(host.join(1, Role::Player, Some("pw")).is_ok());
        assert!(
            Chat::new(
                &(),
                &GameOptions([("colour".into(), "red".into())].into()),
                1
            )
            .is_err()
        );
    }

    #[test]
    fn say_is_relayed_by_the_game_and_only_the_owner_kicks() {
        let mut host = Host::new(&[]);
        host.join(1, Role::Player, None).unwrap();
        host.join(2, Role::Player, None).unwrap();
        host.actions();
        host.send(2, "say", serde_json::json!({"text": "hello"}));
        let actions = host.actions();
        let said = emitted(&actions);
        assert_eq!(said[0].0, Audience::All);
        let body: Said = serde_json::from_slice(&said[0].1.data).unwrap();
        assert_eq!((body.from, body.text.as_str(), body.seq), (2, "hello", 1));
        assert!(matches!(
            actions.last(),
            Some(RoomAction::Answer {
                outcome: EventOutcome::Data(_),
                ..
            })
        ));
        host.send(2, "kick", serde_json::json!({"player": 1, "reason": "x"}));
        assert!(matches!(
            host.actions().as_slice(),
            [RoomAction::Answer {
                outcome: EventOutcome::Error { .. },
                ..
            }]
        ));
        host.send(
            1,
            "kick",
            serde_json::json!({"player": 2, "reason": "spam"}),
        );
        assert!(matches!(
            host.actions().first(),
            Some(RoomAction::Kick { player: PlayerId(2), message }) if message == "spam"
        ));
        host.send(1, "say", serde_json::json!({"text": ""}));
        assert!(matches!(
            host.actions().as_slice(),
            [RoomAction::Answer {
                outcome: EventOutcome::Error { .. },
                ..
            }]
        ));
    }

    #[test]
    fn a_poll_collects_answers_and_timeouts_then_announces_the_result() {
        let mut host = Host::new(&[]);
        for id in 1..=3 {
            host.join(id, Role::Player, None).unwrap();
        }
        host.join(9, Role::Spectator, None).unwrap();
        host.actions();
        host.send(
            1,
            "poll",
            serde_json::json!({"question": "pizza?", "timeout_ms": 1000}),
        );
        let votes: Vec<(Audience, RoomEvent)> = emitted(&host.actions());
        assert_eq!(votes.len(), 3, "players only");
        let ids: Vec<EmitId> = votes
            .iter()
            .map(|(_, e)| EmitId(e.ack_id.expect("asks for an answer")))
            .collect();
        let answer = |id, from, outcome| Answer {
            id,
            from: PlayerId(from),
            outcome,
        };
        host.with(|chat, ctx| {
            chat.answer(
                ctx,
                answer(ids[0], 1, AnswerOutcome::Data(b"true".to_vec())),
            )
        });
        host.with(|chat, ctx| {
            chat.answer(
                ctx,
                answer(ids[1], 2, AnswerOutcome::Data(b"false".to_vec())),
            )
        });
        assert!(emitted(&host.actions()).is_empty(), "one still to answer");
        host.with(|chat, ctx| chat.answer(ctx, answer(ids[2], 3, AnswerOutcome::TimedOut)));
        let result = emitted(&host.actions());
        assert_eq!(result[0].1.name, "poll_result");
        let result: PollResult = serde_json::from_slice(&result[0].1.data).unwrap();
        assert_eq!((result.yes, result.no, result.silent), (1, 1, 1));
    }
}
