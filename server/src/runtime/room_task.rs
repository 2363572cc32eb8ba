//! One room's task (shell): the drift-free tick loop around a pure
//! [`Room`] and its [`Members`]. Just before each tick it reads what its
//! attached members sent (their sessions and connections live on this
//! shard: see [`super::session_task::Drivable`]) and carries out their
//! requests itself; at the tick it applies the commands sessions queued,
//! steps the game, and the members' fan-out offers every member its update
//! through its outbox (see [`crate::outbox`]), which writes it to the
//! socket right here where it can.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use tickwire_shared::game::{Game, GameOptions, Identity, JoinRequest, LeaveCause};
use tickwire_shared::ids::{PlayerId, RoomId};
use tickwire_shared::protocol::Role;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::session_task::{AttachState, Driven};
use super::{Shared, now};
use crate::outbox::Outbox;
use crate::reason::Refusal;
use crate::resume::Parked;
use crate::room::clock::{RoomTiming, TickClock};
use crate::room::health::{HealthReport, RoomHealth};
use crate::room::members::{MemberReport, Members, RoomEffects};
use crate::room::{Disposal, Room, Vacancy};
use crate::session::{Answer, Command, Now, RoomInput};

/// What sessions ask of a room.
#[derive(Debug)]
pub(crate) enum RoomCommand {
    /// Take a client (its seat is already reserved in the lobby); its
    /// updates go to `outbox`.
    /// `name`, `options` and `identity` are for the game's join hook.
    Join {
        player: PlayerId,
        role: Role,
        name: String,
        options: GameOptions,
        identity: Option<Arc<Identity>>,
        outbox: Arc<Outbox>,
        reply: oneshot::Sender<Result<RoomTiming, Refusal>>,
    },
    /// The client left (or its session ended, `cause` says how); `done` is
    /// told once its seat is free.
    Leave {
        player: PlayerId,
        cause: LeaveCause,
        done: Option<oneshot::Sender<()>>,
    },
    /// Inputs, an ack or an event from a member.
    Input { player: PlayerId, input: RoomInput },
    /// A member's connection dropped: keep its seat until `until`.
    Suspend { player: PlayerId, until: Instant },
    /// A suspended member is back on a new connection (`outbox`), holding
    /// the world of tick `from`; answered with the room's timing and the
    /// member's role.
    Resume {
        player: PlayerId,
        outbox: Arc<Outbox>,
        from: Option<tickwire_shared::tick::Tick>,
        reply: oneshot::Sender<Result<(RoomTiming, Role), Refusal>>,
    },
    /// A member's session now runs on this shard: the room reads its
    /// connection at each tick and wakes the session's task through
    /// `wake` when it hands the session back (left, or ended).
    Attach {
        conn: Driven,
        outbox: Arc<Outbox>,
        attach: Arc<AttachState>,
    },
    /// An operator asks how the room is doing: its members and tick
    /// health.
    Inspect { reply: oneshot::Sender<RoomReport> },
    /// An operator removes a member; answered whether it was one.
    Kick {
        player: PlayerId,
        message: String,
        reply: oneshot::Sender<bool>,
    },
    /// An operator closes the room.
    Close {
        message: String,
        reply: oneshot::Sender<()>,
    },
}

/// A room as an operator sees it (`Inspect`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub(crate) struct RoomReport {
    /// The current tick.
    pub(crate) tick: u32,
    /// Ticks per second.
    pub(crate) tick_rate_hz: u16,
    /// Its members.
    pub(crate) members: Vec<MemberReport>,
    /// Its tick health.
    pub(crate) health: HealthReport,
}

/// Most frames read from one member at one tick: a player sends about one
/// a tick; a flood beyond this waits for the next tick (and the session's
/// flood limit closes it).
const MAX_READS_PER_TICK: usize = 16;

/// The least time before a tick that the room reads its attached
/// members. The read gets a wake-up of its own just before the tick, so
/// that it never delays the step and the fan-out (a 16-player room reads
/// in about 60 µs, a 256-player one in about 1.5 ms; reading in the tick's
/// own wake-up raised update latency p99 on crowd and lobbies, where 32
/// rooms share a shard).
const MIN_READ_LEAD: Duration = Duration::from_micros(300);

/// How long before the next tick to read the members, after a read that
/// took `took`: twice that plus the minimum (so a slower read still ends
/// before the tick), at most a quarter of the period.
fn lead_after(took: Duration, period: Duration) -> Duration {
    (took * 2 + MIN_READ_LEAD).min(period / 4)
}

/// An attached member's connection, as the room holds it.
struct Attachment {
    conn: Driven,
    outbox: Arc<Outbox>,
    attach: Arc<AttachState>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment").finish_non_exhaustive()
    }
}

/// Runs the room until it is disposed (empty for the grace period) or the
/// server shuts down; every tick that started was finished.
pub(crate) async fn run<G: Game>(
    shared: Arc<Shared>,
    id: RoomId,
    mut room: Room<G>,
    mut commands: mpsc::Receiver<RoomCommand>,
) {
    let period = room.game().tick_rate().period();
    let started = now();
    let mut clock = TickClock::new(started.at, period);
    let mut zero_unix_us = started.unix_us;
    let metrics = Arc::clone(&shared.metrics);
    // Members are pinged on ticks, every heartbeat rounded to whole ticks.
    let ping_every = clock.ticks_in(shared.config.timeouts.heartbeat());
    let mut members = Members::new(id, ping_every, Arc::clone(&metrics));
    let mut attached: BTreeMap<PlayerId, Attachment> = BTreeMap::new();
    let mut read_lead = MIN_READ_LEAD;
    let mut health = RoomHealth::default();
    let mut vacancy = Vacancy::new(
        Instant::now(),
        shared.config.timeouts.empty_room(),
        shared.config.timeouts.unjoined_room(),
    );

    loop {
        let due = clock.due(room.tick().0 + 1);
        if !attached.is_empty() {
            // Read the members just before the tick, so that the step and
            // the fan-out start on time; what arrives in the lead waits a
            // tick.
            let read_at = due.checked_sub(read_lead).unwrap_or(due);
            tokio::select! {
                biased;
                () = shared.cancel.cancelled() => break,
                () = tokio::time::sleep_until(read_at.into()) => {}
            }
            let reading = now();
            read_members(&shared, id, &mut room, &mut members, &mut attached, reading);
            apply_effects(&shared, id, &mut members, &mut attached);
            read_lead = lead_after(reading.at.elapsed(), period);
        }
        tokio::select! {
            biased;
            () = shared.cancel.cancelled() => break,
            () = tokio::time::sleep_until(due.into()) => {}
        }
        let began = now();
        let lateness = began.at.saturating_duration_since(due);
        if lateness > period {
            metrics.late_ticks.inc();
            debug!(room = %id, tick = room.tick().0 + 1, late_ms = lateness.as_secs_f64() * 1e3, "late tick");
        }
        if lateness > Duration::from_secs(1) {
            // Far behind (the machine stalled): start a new schedule from
            // here rather than running a second of ticks back to back.
            warn!(room = %id, behind_ms = lateness.as_millis() as u64, "room fell behind; rescheduling");
            clock.restart(room.tick().0 + 1, began.at);
            zero_unix_us = began
                .unix_us
                .saturating_sub(u64::from(room.tick().0 + 1) * period.as_micros() as u64);
        }

        let timing = RoomTiming {
            tick_rate: room.game().tick_rate(),
            tick_zero_unix_us: zero_unix_us,
            tick: room.tick(),
            clock,
        };
        while let Ok(command) = commands.try_recv() {
            if let RoomCommand::Inspect { reply } = command {
                let _ = reply.send(RoomReport {
                    tick: room.tick().0,
                    tick_rate_hz: room.game().tick_rate().hz(),
                    members: members.report(),
                    health: health.report(period),
                });
                continue;
            }
            handle(
                &shared,
                id,
                &mut room,
                &mut members,
                &mut attached,
                command,
                timing,
            );
        }
        // Dropped members whose grace ran out.
        for player in members.expired(began.at) {
            if let Some(role) = members.leave(&mut room, player, LeaveCause::Disconnected) {
                shared.lobby().release(id, role);
            }
        }
        // Sessions that ended without saying so.
        let gone: Vec<PlayerId> = members.gone().collect();
        for player in gone {
            if let Some(role) = members.leave(&mut room, player, LeaveCause::Disconnected) {
                shared.lobby().release(id, role);
            }
        }

        members.step(&mut room);
        if apply_effects(&shared, id, &mut members, &mut attached) {
            // The game closed the room: its members are gone.
            room.dispose();
            shared.lobby().remove(id);
            metrics.rooms_disposed.inc();
            metrics.rooms.dec();
            info!(room = %id, ticks = room.tick().0, "room disposed: closed by its game");
            return;
        }
        let lateness_us = u32::try_from(lateness.as_micros()).unwrap_or(u32::MAX);
        let fan_out = members.fan_out(&mut room, now(), lateness_us);
        // Counted once a tick: these counters are shared by every shard.
        if fan_out.updates_direct > 0 {
            metrics.updates_direct.inc_by(fan_out.updates_direct);
            metrics.updates_sent.inc_by(fan_out.updates_direct);
            metrics.messages_out.inc_by(fan_out.messages_direct);
            metrics.bytes_out.inc_by(fan_out.bytes_direct);
        }
        if fan_out.full_snapshots > 0 {
            metrics.full_snapshots.inc_by(fan_out.full_snapshots);
        }
        if fan_out.superseded > 0 {
            metrics.updates_superseded.inc_by(fan_out.superseded);
        }
        metrics.ticks.inc();
        let took = began.at.elapsed();
        metrics.observe_tick(took);
        health.record(period, took, lateness, fan_out.update_bytes);

        let disposal = vacancy.check(Instant::now(), usize::from(!members.is_empty()));
        if let Some(why) = disposal
            && shared.lobby().remove_if_empty(id)
        {
            room.dispose();
            match why {
                Disposal::Empty => info!(room = %id, "room disposed after being empty"),
                Disposal::NeverJoined => {
                    metrics.rooms_unjoined.inc();
                    info!(room = %id, "room disposed: nobody joined it");
                }
            }
            metrics.rooms_disposed.inc();
            metrics.rooms.dec();
            return;
        }
    }

    // Shutdown: members get told by their sessions; free the seats here.
    for (_, attachment) in std::mem::take(&mut attached) {
        attachment.attach.hand_back();
    }
    for role in members.clear(&mut room) {
        shared.lobby().release(id, role);
    }
    shared.lobby().remove(id);
    metrics.rooms.dec();
    info!(room = %id, ticks = room.tick().0, "room stopped");
}

/// Tells the lobby what the game did (freed places, lock, metadata) and
/// hands back the connections of members it removed; true when the game
/// closed the room.
fn apply_effects(
    shared: &Shared,
    id: RoomId,
    members: &mut Members,
    attached: &mut BTreeMap<PlayerId, Attachment>,
) -> bool {
    let effects = members.take_effects();
    if effects.is_empty() {
        return false;
    }
    let RoomEffects {
        removed,
        locked,
        metadata,
        closed,
    } = effects;
    for (player, _) in &removed {
        // Its session takes its connection back and hears why.
        if let Some(attachment) = attached.remove(player) {
            attachment.attach.hand_back();
        }
    }
    let mut lobby = shared.lobby();
    for (_, role) in removed {
        lobby.release(id, role);
    }
    if let Some(locked) = locked {
        lobby.set_locked(id, locked);
    }
    if let Some(metadata) = metadata {
        lobby.set_metadata(id, metadata);
    }
    closed
}

/// Reads what every attached member sent and carries out its session's
/// requests here; hands back (wakes) the sessions that left or ended.
fn read_members<G: Game>(
    shared: &Shared,
    id: RoomId,
    room: &mut Room<G>,
    members: &mut Members,
    attached: &mut BTreeMap<PlayerId, Attachment>,
    now: Now,
) {
    let mut detached = Vec::new();
    for (&player, attachment) in attached.iter() {
        // Busy only while its task writes to a stalled socket: read it at
        // the next tick.
        let Ok(mut conn) = attachment.conn.try_lock() else {
            continue;
        };
        conn.read_ready(now, MAX_READS_PER_TICK);
        let session = conn.session();
        while let Some(command) = session.poll_command() {
            match command {
                Command::ToRoom(input) => members.receive(room, player, input),
                Command::Suspend { token, .. } => {
                    let until = now.at + shared.config.timeouts.reconnect_grace();
                    if members.suspend(room, player, now.at, until) {
                        let parked = Parked {
                            player,
                            room: id,
                            until,
                            account: session.identity().map(|i| i.subject.clone()),
                        };
                        shared.resumes().park(token, parked, now.at);
                    }
                }
                Command::LeaveRoom { confirm, cause, .. } => {
                    if let Some(role) = members.leave(room, player, cause) {
                        shared.lobby().release(id, role);
                    }
                    if confirm {
                        session.handle_answer(now, Answer::Left);
                    }
                }
                Command::ListRooms { request_id, filter } => {
                    let rooms = shared.list_rooms(&filter);
                    session.handle_answer(now, Answer::RoomList { request_id, rooms });
                }
                // A member's session refuses lobby requests itself.
                other => warn!(room = %id, %player, ?other, "lobby request from a member ignored"),
            }
        }
        while let Some(transmit) = session.poll_transmit() {
            attachment.outbox.queue(transmit, now);
        }
        if session.room() != Some(id) || session.is_closed() {
            detached.push(player);
        }
    }
    for player in detached {
        if let Some(attachment) = attached.remove(&player) {
            attachment.attach.hand_back();
        }
    }
}

fn handle<G: Game>(
    shared: &Shared,
    id: RoomId,
    room: &mut Room<G>,
    members: &mut Members,
    attached: &mut BTreeMap<PlayerId, Attachment>,
    command: RoomCommand,
    timing: RoomTiming,
) {
    match command {
        RoomCommand::Join {
            player,
            role,
            name,
            options,
            identity,
            outbox,
            reply,
        } => match members.join(
            room,
            &JoinRequest {
                player,
                name: &name,
                role,
                options: &options,
                identity: identity.as_deref(),
            },
            outbox,
        ) {
            Ok(()) => {
                if reply.send(Ok(timing)).is_err() {
                    // The session gave up waiting: undo.
                    members.leave(room, player, LeaveCause::Disconnected);
                    shared.lobby().release(id, role);
                }
            }
            Err(refusal) => {
                shared.lobby().release(id, role);
                info!(room = %id, %player, reason = %refusal, "join refused");
                let _ = reply.send(Err(refusal));
            }
        },
        RoomCommand::Leave {
            player,
            cause,
            done,
        } => {
            if let Some(attachment) = attached.remove(&player) {
                attachment.attach.hand_back();
            }
            if let Some(role) = members.leave(room, player, cause) {
                shared.lobby().release(id, role);
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
        RoomCommand::Input { player, input } => members.receive(room, player, input),
        RoomCommand::Suspend { player, until } => {
            if let Some(attachment) = attached.remove(&player) {
                attachment.attach.hand_back();
            }
            members.suspend(room, player, Instant::now(), until);
        }
        RoomCommand::Resume {
            player,
            outbox,
            from,
            reply,
        } => {
            let resumed = members
                .resume(room, player, outbox, from)
                .map(|role| (timing, role))
                .ok_or(Refusal::RoomClosed);
            let _ = reply.send(resumed);
        }
        RoomCommand::Attach {
            conn,
            outbox,
            attach,
        } => {
            let player = conn.try_lock().map(|mut c| c.session().player());
            match player {
                Ok(player) if members.contains(player) => {
                    shared.metrics.sessions_attached.inc();
                    attached.insert(
                        player,
                        Attachment {
                            conn,
                            outbox,
                            attach,
                        },
                    );
                }
                // Gone meanwhile, or busy: its task goes on reading it.
                _ => attach.hand_back(),
            }
        }
        RoomCommand::Kick {
            player,
            message,
            reply,
        } => {
            let kicked = members.kick_by_operator(room, player, message);
            let _ = reply.send(kicked);
        }
        RoomCommand::Close { message, reply } => {
            members.close_by_operator(room, message);
            let _ = reply.send(());
        }
        // Answered in the loop, where the health is.
        RoomCommand::Inspect { reply } => drop(reply),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_lead_follows_the_read_cost_within_bounds() {
        let period = Duration::from_millis(33);
        assert_eq!(lead_after(Duration::ZERO, period), MIN_READ_LEAD);
        assert_eq!(
            lead_after(Duration::from_millis(1), period),
            Duration::from_micros(2_300)
        );
        assert_eq!(lead_after(Duration::from_secs(1), period), period / 4);
    }
}
