//! A room's members as the room sees them (pure: no socket, no clock):
//! each member's outbox and ping schedule, what members send the room
//! (inputs, acks, events), and each tick's fan-out of updates and pings
//! to the outboxes. The room task (and the test harness) call it; it
//! never learns which transport a member uses.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use tickwire_shared::game::Game;
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::{EventReply, Ping, Role, RoomEvent, ServerMessage};
use tracing::{debug, info};

use super::{InputVerdict, Room, RoomError};
use crate::metrics::Metrics;
use crate::outbox::{Outbox, encode_frame};
use crate::reason::{Fault, InputDrop, Label, Refusal};
use crate::session::{Now, RoomInput};

#[derive(Debug)]
struct Member {
    outbox: Arc<Outbox>,
    /// The tick with whose update the member is pinged next.
    next_ping: u32,
}

/// What one tick's fan-out did, for the room's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Updates handed out.
    pub updates: u64,
    /// Updates written to sockets on the room's thread.
    pub updates_direct: u64,
    /// Messages written so (updates, pings, pongs), and their bytes.
    pub messages_direct: u64,
    /// Their bytes.
    pub bytes_direct: u64,
    /// Full snapshots among the updates.
    pub full_snapshots: u64,
    /// Updates that replaced one not sent yet.
    pub superseded: u64,
}

/// The members of one room. See the module doc.
#[derive(Debug)]
pub struct Members {
    room: RoomId,
    members: BTreeMap<PlayerId, Member>,
    /// Members are pinged every this many ticks.
    ping_every: u32,
    metrics: Arc<Metrics>,
}

impl Members {
    /// No members yet; each will be pinged every `ping_every` ticks.
    pub fn new(room: RoomId, ping_every: u32, metrics: Arc<Metrics>) -> Self {
        Self {
            room,
            members: BTreeMap::new(),
            ping_every: ping_every.max(1),
            metrics,
        }
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether `player` is a member.
    pub fn contains(&self, player: PlayerId) -> bool {
        self.members.contains_key(&player)
    }

    /// Whether the room has no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Seats a member in `room` (its lobby seat already reserved), with
    /// the outbox its updates go to.
    pub fn join<G: Game>(
        &mut self,
        room: &mut Room<G>,
        player: PlayerId,
        role: Role,
        outbox: Arc<Outbox>,
    ) -> Result<(), Refusal> {
        room.join(player, role).map_err(|e| match e {
            RoomError::Game(g) => Refusal::Game(g),
            _ => Refusal::AlreadyMember,
        })?;
        self.members.insert(
            player,
            Member {
                outbox,
                next_ping: room.tick().0.saturating_add(self.ping_every),
            },
        );
        self.count(role, 1);
        info!(room = %self.room, %player, ?role, "joined room");
        Ok(())
    }

    /// Removes a member; returns its role (its lobby seat is the caller's
    /// to release) if it was one.
    pub fn leave<G: Game>(&mut self, room: &mut Room<G>, player: PlayerId) -> Option<Role> {
        self.members.remove(&player)?;
        let role = room.leave(player)?;
        self.count(role, -1);
        info!(room = %self.room, %player, ?role, "left room");
        Some(role)
    }

    /// Members whose sessions ended without saying so (the outbox is only
    /// the room's now).
    pub fn gone(&self) -> impl Iterator<Item = PlayerId> + '_ {
        self.members
            .iter()
            .filter(|(_, m)| Arc::strong_count(&m.outbox) == 1)
            .map(|(&p, _)| p)
    }

    /// Every member, removed from `room` (the room is stopping); returns
    /// their roles for the lobby.
    pub fn clear<G: Game>(&mut self, room: &mut Room<G>) -> Vec<Role> {
        let players: Vec<PlayerId> = self.members.keys().copied().collect();
        players
            .into_iter()
            .filter_map(|p| self.leave(room, p))
            .collect()
    }

    fn count(&self, role: Role, delta: i64) {
        let gauge = match role {
            Role::Player => &self.metrics.players,
            Role::Spectator => &self.metrics.spectators,
        };
        gauge.inc_by(delta);
    }

    /// Queues a reliable message for a member, counting it when its outbox
    /// is full.
    fn tell(&self, member: &Member, message: &ServerMessage) {
        let Some(frame) = encode_frame(message) else {
            return;
        };
        if member.outbox.push_from_room(frame).is_err() {
            self.metrics.error(&Fault::OutboxFull);
        }
    }

    /// Something a member sent the room.
    pub fn receive<G: Game>(&mut self, room: &mut Room<G>, player: PlayerId, input: RoomInput) {
        let Some(member) = self.members.get(&player) else {
            return;
        };
        match input {
            RoomInput::Ack(tick) => {
                room.receive_ack(player, tick);
            }
            RoomInput::Inputs(inputs) => {
                // A piggybacked acknowledgement counts whatever becomes of
                // the inputs.
                if let Some(tick) = inputs.ack {
                    room.receive_ack(player, tick);
                }
                let refusal = match room.receive_inputs(player, &inputs) {
                    Ok(InputVerdict::Accepted) => return,
                    Ok(InputVerdict::Dropped(why)) => {
                        self.metrics.input_dropped(why);
                        debug!(room = %self.room, %player, reason = why.label(), "input dropped");
                        if why == InputDrop::Stale {
                            return;
                        }
                        Refusal::Input {
                            seq: inputs.newest_seq,
                            why,
                        }
                    }
                    Err(RoomError::NotAPlayer) => {
                        self.metrics.input_dropped(InputDrop::NotAPlayer);
                        Refusal::NotAPlayer
                    }
                    Err(_) => return,
                };
                self.tell(member, &ServerMessage::Error(refusal.to_message(None)));
            }
            RoomInput::Event(event) => {
                // Relayed to the other members, as it was sent; the sender's
                // ack is answered with no data.
                let relayed = ServerMessage::Event(RoomEvent {
                    name: event.name,
                    data: event.data,
                    ack_id: None,
                });
                for (_, other) in self.members.iter().filter(|(p, _)| **p != player) {
                    self.tell(other, &relayed);
                }
                if let Some(ack_id) = event.ack_id {
                    let reply = ServerMessage::EventReply(EventReply {
                        ack_id,
                        data: Vec::new(),
                    });
                    self.tell(member, &reply);
                }
            }
        }
    }

    /// Hands every member this tick's update (after [`Room::step`]), with
    /// a ping when one is due (one ping frame a tick, stamped once).
    pub fn fan_out<G: Game>(&mut self, room: &mut Room<G>, now: Now, lateness_us: u32) -> FanOut {
        let tick = room.tick().0;
        let ping_every = self.ping_every;
        let mut fan_out = FanOut::default();
        let mut ping: Option<Option<Bytes>> = None;
        let members = &mut self.members;
        room.updates(lateness_us, |player, delivery| {
            let Some(member) = members.get_mut(&player) else {
                return;
            };
            let due = tick >= member.next_ping;
            if due {
                member.next_ping = tick.saturating_add(ping_every);
            }
            let ping = due
                .then(|| {
                    ping.get_or_insert_with(|| {
                        encode_frame(&ServerMessage::Ping(Ping {
                            sent_at_us: now.unix_us,
                        }))
                    })
                    .as_ref()
                })
                .flatten();
            let offered = member.outbox.offer_update(&delivery.frame, ping, now);
            if offered.dropped {
                return;
            }
            fan_out.updates += 1;
            fan_out.updates_direct += u64::from(offered.direct);
            fan_out.messages_direct += offered.direct_messages;
            fan_out.bytes_direct += offered.direct_bytes;
            fan_out.superseded += u64::from(offered.replaced);
            fan_out.full_snapshots += u64::from(delivery.full);
        });
        fan_out
    }
}
