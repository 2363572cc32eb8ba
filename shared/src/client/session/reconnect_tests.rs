//! The session's reconnection: drop, backoff, resume with the world kept,
//! or lose the seat.

use super::tests::{self, drain, events, joined, room_info, session, t0, update};
use super::*;
use crate::arena::{PLAYER, SCHEMA};
use crate::client::reconnect::LostReason;
use crate::delta;
use crate::ids::EntityId;
use crate::snapshot::EntityState;

const GRACE_MS: u32 = 30_000;

fn welcome(player: u32, token: u8, resumed: bool) -> ServerMessage {
    ServerMessage::Welcome(Welcome {
        protocol_version: PROTOCOL_VERSION,
        player: PlayerId(player),
        resume_token: ResumeToken([token; 16]),
        resumed,
        heartbeat_interval_ms: 1000,
        reconnect_grace_ms: GRACE_MS,
    })
}

/// A world at `tick` with one avatar at `x` (1/64 units).
fn world(tick: u32, x: i32) -> WorldSnapshot {
    let mut w = WorldSnapshot::empty(Tick(tick));
    w.push(EntityState::new(EntityId(1), PLAYER, &[x, 640]));
    w.finish().expect("sorted");
    w
}

fn update_of(world: &WorldSnapshot, baseline: Option<&WorldSnapshot>) -> ServerMessage {
    ServerMessage::Update(Update {
        tick: world.tick,
        baseline: baseline.map(|b| b.tick),
        lateness_us: 0,
        checksum: world.checksum(),
        delta: delta::encode(&SCHEMA, baseline, world).expect("encodes"),
    })
}

/// A session welcomed by a server with a grace, in room 3, holding the
/// world of tick 10.
fn playing(now: Now) -> ClientSession {
    let mut s = session(SessionConfig::default());
    s.handle(now, welcome(5, 1, false));
    let id = s
        .request(now, Request::QuickJoin(QuickJoinSpec::default()))
        .expect("request");
    s.handle(now, joined(Some(id.0), now.unix_us));
    s.handle(now, update_of(&world(10, 64), None));
    drain(&mut s, now);
    events(&mut s);
    s
}

fn reconnecting_attempt(events: &[SessionEvent]) -> Option<(u32, Duration)> {
    events.iter().rev().find_map(|e| match e {
        SessionEvent::Reconnecting { attempt, wait, .. } => Some((*attempt, *wait)),
        _ => None,
    })
}

/// Runs the clock to the next attempt and opens a connection.
fn attempt(s: &mut ClientSession, now: &mut Now) {
    let at = s.poll_timeout().expect("an attempt is due");
    *now = Now {
        at,
        unix_us: now.unix_us,
    };
    s.handle_timeout(*now);
    assert!(s.poll_connect(*now), "the attempt is due");
    assert!(!s.poll_connect(*now), "once per attempt");
}

/// Drops the connection, runs to the first attempt and opens it: the
/// session has queued its resume `Hello`.
fn dropped_and_greeting(s: &mut ClientSession, now: &mut Now) {
    s.handle_connection_lost(*now, None);
    events(s);
    attempt(s, now);
    s.connection_opened(*now);
}

/// The resume `Hello` the session sent.
fn resume_hello(s: &mut ClientSession, now: Now) -> Hello {
    match drain(s, now).as_slice() {
        [
            Transmit {
                message: ClientMessage::Hello(hello),
                ..
            },
        ] => hello.clone(),
        other => panic!("expected the resume Hello, got {other:?}"),
    }
}

#[test]
fn a_drop_in_a_room_reconnects_resumes_and_keeps_the_world() {
    let mut now = t0();
    let mut s = playing(now);
    let ack = s
        .emit_with_ack(now, "echo", b"1".to_vec(), Duration::from_secs(5))
        .expect("emits");
    let request = s
        .request(now, Request::ListRooms(RoomFilter::default()))
        .expect("request");
    drain(&mut s, now);

    s.handle_connection_lost(now, None);
    assert_eq!(s.state(), &SessionState::Reconnecting);
    let got = events(&mut s);
    let (attempt_no, wait) = reconnecting_attempt(&got).expect("Reconnecting");
    assert_eq!(attempt_no, 1);
    assert!(wait >= Duration::from_millis(125) && wait <= Duration::from_millis(250));
    assert!(got.contains(&SessionEvent::Answered {
        id: request,
        result: Err(RequestFailure::Interrupted)
    }));
    assert!(got.iter().any(|e| matches!(
        e,
        SessionEvent::Emitted { ack: a, outcome: EmitOutcome::Interrupted, .. } if *a == ack
    )));
    assert!(!got.iter().any(|e| matches!(e, SessionEvent::Closed(_))));
    // Meanwhile: calls that need the server are refused, inputs dropped.
    assert_eq!(
        s.emit("chat", b"{}".to_vec()),
        Err(SessionError::Reconnecting)
    );
    assert_eq!(
        s.request(now, Request::ListRooms(RoomFilter::default())),
        Err(SessionError::Reconnecting)
    );
    assert!(s.send_input(vec![0; 4]).is_ok());
    assert!(
        drain(&mut s, now).is_empty(),
        "nothing to send: no transport"
    );
    assert!(!s.poll_connect(now), "not before the wait");

    attempt(&mut s, &mut now);
    s.connection_opened(now);
    let hello = resume_hello(&mut s, now);
    assert_eq!(hello.resume_token, Some(ResumeToken([1; 16])));
    assert_eq!(hello.resume_from, Some(Tick(10)), "the world it holds");
    assert_eq!(hello.client_name, "me");
    s.handle(now, welcome(5, 2, true));
    assert!(events(&mut s).is_empty(), "the seat's Joined settles it");
    s.handle(now, joined(None, now.unix_us));
    match &events(&mut s)[..] {
        [
            SessionEvent::Resumed {
                room: Some(j),
                attempts: 1,
                ..
            },
        ] => assert_eq!(j.room.id, room_info().id),
        other => panic!("expected Resumed, got {other:?}"),
    }
    assert!(matches!(s.state(), SessionState::InRoom(_)));
    assert_eq!(
        s.welcome().map(|w| w.resume_token),
        Some(ResumeToken([2; 16]))
    );
    // The world was kept: a delta against tick 10 applies.
    s.handle(now, update_of(&world(14, 192), Some(&world(10, 64))));
    assert!(matches!(
        events(&mut s)[..],
        [SessionEvent::Updated(AppliedUpdate { full: false, .. })]
    ));
    assert_eq!(s.world().map(|w| w.tick), Some(Tick(14)));
    // Calls work again.
    assert!(s.emit("chat", b"{}".to_vec()).is_ok());
}

#[test]
fn failed_attempts_back_off_and_give_up_when_the_grace_runs_out() {
    let mut now = t0();
    let mut s = playing(now);
    s.handle_connection_lost(now, None);
    let dropped = now.at;
    let mut waits = vec![reconnecting_attempt(&events(&mut s)).expect("first").1];
    let mut attempts = 0;
    loop {
        attempt(&mut s, &mut now);
        attempts += 1;
        s.connection_failed(now);
        let got = events(&mut s);
        if let Some(SessionEvent::Lost(reason)) = got.last() {
            assert_eq!(reason, &LostReason::GaveUp { attempts });
            break;
        }
        let (n, wait) = reconnecting_attempt(&got).expect("the next attempt");
        assert_eq!(n, attempts + 1);
        waits.push(wait);
        assert!(attempts < 100, "it gives up");
    }
    let elapsed = now.at - dropped;
    assert!(
        elapsed >= Duration::from_millis(u64::from(GRACE_MS))
            && elapsed < Duration::from_millis(u64::from(GRACE_MS) + 100),
        "tried for the grace: {elapsed:?}"
    );
    // Waits grow to the cap (5 s nominal, jittered to 2.5..=5 s).
    assert!(waits[1] > waits[0] / 2 && waits[4] >= Duration::from_millis(2000));
    assert!(waits.iter().all(|w| *w <= Duration::from_secs(5)));
    assert!(s.is_closed());
    assert!(s.emit("x", vec![]).is_err());
}

#[test]
fn a_seat_gone_leaves_the_session_in_the_lobby_as_a_new_player() {
    let mut now = t0();
    let mut s = playing(now);
    dropped_and_greeting(&mut s, &mut now);
    drain(&mut s, now);
    s.handle(now, welcome(9, 3, false));
    assert_eq!(
        events(&mut s),
        vec![SessionEvent::Lost(LostReason::SeatGone)]
    );
    assert_eq!(s.state(), &SessionState::Lobby);
    assert_eq!(s.player(), Some(PlayerId(9)));
    assert!(s.world().is_none(), "the room's world is gone");
    assert!(
        s.request(now, Request::ListRooms(RoomFilter::default()))
            .is_ok()
    );
}

#[test]
fn a_lobby_session_comes_back_as_a_new_player_and_that_is_a_resume() {
    let mut now = t0();
    let mut s = session(SessionConfig::default());
    s.handle(now, welcome(5, 1, false));
    events(&mut s);
    dropped_and_greeting(&mut s, &mut now);
    assert_eq!(
        resume_hello(&mut s, now).resume_from,
        None,
        "no room, no world"
    );
    s.handle(now, welcome(6, 2, false));
    assert!(matches!(
        events(&mut s)[..],
        [SessionEvent::Resumed { room: None, .. }]
    ));
    assert_eq!(s.state(), &SessionState::Lobby);
}

#[test]
fn a_refusal_on_the_new_connection_loses_the_session() {
    let mut now = t0();
    let mut s = playing(now);
    dropped_and_greeting(&mut s, &mut now);
    s.handle(
        now,
        ServerMessage::Rejected(Rejected {
            reason: CloseReason::AuthFailed,
            message: "expired".into(),
        }),
    );
    assert_eq!(
        events(&mut s),
        vec![SessionEvent::Lost(LostReason::Refused {
            reason: CloseReason::AuthFailed,
            message: "expired".into()
        })]
    );
    assert!(s.is_closed());
}

#[test]
fn a_connection_lost_while_greeting_again_is_a_failed_attempt() {
    let mut now = t0();
    let mut s = playing(now);
    dropped_and_greeting(&mut s, &mut now);
    // Welcomed with the seat, then cut before the Joined: the new token
    // (the server parked the seat under it) is the one tried next.
    s.handle(now, welcome(5, 4, true));
    s.handle_connection_lost(now, None);
    assert_eq!(
        reconnecting_attempt(&events(&mut s)).map(|(n, _)| n),
        Some(2)
    );
    attempt(&mut s, &mut now);
    s.connection_opened(now);
    assert_eq!(
        resume_hello(&mut s, now).resume_token,
        Some(ResumeToken([4; 16]))
    );
}

#[test]
fn goodbyes_and_refusals_close_instead_of_reconnecting() {
    let now = t0();
    // The server replaced this connection: fighting back would loop.
    let mut s = playing(now);
    s.handle_connection_lost(now, Some((CloseReason::Replaced, "elsewhere".into())));
    assert!(s.is_closed());
    assert!(matches!(events(&mut s)[..], [SessionEvent::Closed(_)]));
    // Reconnecting disabled.
    let mut s = session(SessionConfig {
        reconnect: ReconnectPolicy::disabled(),
        ..SessionConfig::default()
    });
    s.handle(now, welcome(5, 1, false));
    s.handle_connection_lost(now, None);
    assert!(s.is_closed());
    // A server that keeps no seats.
    let mut s = session(SessionConfig::default());
    s.handle(now, tests::welcome());
    s.handle_connection_lost(now, None);
    assert!(s.is_closed());
    // Never welcomed: nothing to resume.
    let mut s = session(SessionConfig::default());
    s.handle_connection_lost(now, None);
    assert!(s.is_closed());
    // An idle timeout parks the seat: that one reconnects.
    let mut s = playing(now);
    s.handle_connection_lost(now, Some((CloseReason::IdleTimeout, String::new())));
    assert!(s.is_reconnecting());
}

#[test]
fn a_silent_room_connection_counts_as_dropped() {
    let now = t0();
    let mut s = playing(now);
    let deadline = s.poll_timeout().expect("a silence deadline");
    assert_eq!(deadline, now.at + Duration::from_secs(5));
    // Anything heard pushes it back.
    let later = now.after(Duration::from_secs(3));
    s.handle(later, update(11));
    events(&mut s);
    drain(&mut s, later);
    assert_eq!(s.poll_timeout(), Some(later.at + Duration::from_secs(5)));
    s.handle_timeout(later.after(Duration::from_secs(4)));
    assert!(!s.is_reconnecting());
    s.handle_timeout(later.after(Duration::from_secs(5)));
    assert!(s.is_reconnecting());
    assert!(reconnecting_attempt(&events(&mut s)).is_some());
}

#[test]
fn a_close_that_parks_the_seat_reconnects_and_other_closes_end() {
    let now = t0();
    let mut s = playing(now);
    s.handle(
        now,
        ServerMessage::Close(Close {
            reason: CloseReason::IdleTimeout,
            message: "silent".into(),
        }),
    );
    assert!(s.is_reconnecting());
    let got = events(&mut s);
    assert_eq!(
        got.iter()
            .filter(|e| matches!(e, SessionEvent::Reconnecting { .. }))
            .count(),
        1
    );
    // The dropped connection's own end, heard afterwards, changes nothing.
    s.handle_connection_lost(now, None);
    assert!(events(&mut s).is_empty());

    let mut s = playing(now);
    s.handle(
        now,
        ServerMessage::Close(Close {
            reason: CloseReason::ServerShutdown,
            message: "bye".into(),
        }),
    );
    assert!(s.is_closed());
    assert!(matches!(events(&mut s)[..], [SessionEvent::Closed(_)]));
}

#[test]
fn an_attempt_nobody_answers_fails_after_its_timeout() {
    let mut now = t0();
    let mut s = playing(now);
    dropped_and_greeting(&mut s, &mut now);
    drain(&mut s, now);
    assert!(s.attempt_under_way());
    let deadline = s.poll_timeout().expect("the attempt's deadline");
    assert_eq!(
        deadline,
        now.at + ReconnectPolicy::default().attempt_timeout
    );
    s.handle_timeout(now.after(Duration::from_secs(9)));
    assert!(s.attempt_under_way(), "not yet");
    s.handle_timeout(now.after(Duration::from_secs(10)));
    assert!(!s.attempt_under_way(), "the shell drops that transport");
    assert_eq!(
        reconnecting_attempt(&events(&mut s)).map(|(n, _)| n),
        Some(2)
    );
}
