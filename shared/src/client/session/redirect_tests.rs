//! Following a redirect: goodbye here, a fresh greeting there, the seat
//! claimed with the original request id, and the answer settling the
//! request; an unreachable node ends the session; a session that does not
//! follow redirects fails the request instead.

use super::tests::{drain, events, joined, ms, session, t0, welcome};
use super::*;
use crate::client::reconnect::LostReason;
use crate::ids::RoomId;

fn redirect(request_id: u32) -> ServerMessage {
    ServerMessage::Redirect(Redirect {
        request_id,
        node: "b".into(),
        ws: "ws://127.0.0.1:7100/ws".into(),
        quic: None,
        reservation: "signed".into(),
        valid_for_ms: 2_000,
    })
}

fn messages(s: &mut ClientSession, now: Now) -> Vec<ClientMessage> {
    drain(s, now).into_iter().map(|t| t.message).collect()
}

/// A welcomed session that asked to quick-join and was redirected.
fn redirected(config: SessionConfig, now: Now) -> (ClientSession, RequestId) {
    let mut s = session(config);
    s.handle(now, welcome());
    let id = s
        .request(now, Request::QuickJoin(QuickJoinSpec::default()))
        .expect("request");
    drain(&mut s, now);
    events(&mut s);
    s.handle(now, redirect(id.0));
    (s, id)
}

#[test]
fn a_redirect_moves_the_session_and_the_other_node_answers_the_request() {
    let now = t0();
    let (mut s, id) = redirected(SessionConfig::default(), now);
    let list = s.request(now, Request::ListRooms(RoomFilter::default()));
    assert_eq!(
        list,
        Err(SessionError::Reconnecting),
        "on the way: no calls"
    );
    assert_eq!(
        events(&mut s),
        [SessionEvent::Redirected {
            node: "b".into(),
            ws: "ws://127.0.0.1:7100/ws".into()
        }]
    );
    match messages(&mut s, now).as_slice() {
        [ClientMessage::Close(c)] => assert_eq!(c.reason, CloseReason::Normal),
        other => panic!("a goodbye to this node, not {other:?}"),
    }
    assert_eq!(s.redirect_target().map(|r| r.node.as_str()), Some("b"));
    assert!(s.poll_connect(now), "the first attempt at once");
    s.connection_opened(now);
    match messages(&mut s, now).as_slice() {
        [ClientMessage::Hello(h)] => {
            assert_eq!(h.resume_token, None, "a new player there");
            assert_eq!(h.client_name, "me");
        }
        other => panic!("a fresh Hello, not {other:?}"),
    }
    let later = now.after(ms(30));
    s.handle(later, welcome());
    assert_eq!(s.state(), &SessionState::Lobby);
    assert_eq!(s.redirect_target(), None);
    match messages(&mut s, later).as_slice() {
        [ClientMessage::ClaimSeat(c)] => {
            assert_eq!((c.request_id, c.reservation.as_str()), (id.0, "signed"));
        }
        other => panic!("the claim, not {other:?}"),
    }
    match events(&mut s).as_slice() {
        [
            SessionEvent::Moved {
                node,
                after,
                attempts,
                ..
            },
        ] => {
            assert_eq!((node.as_str(), *after, *attempts), ("b", ms(30), 1));
        }
        other => panic!("{other:?}"),
    }
    s.handle(later, joined(Some(id.0), later.unix_us));
    match events(&mut s).as_slice() {
        [
            SessionEvent::Answered {
                id: got,
                result: Ok(Answer::Joined(j)),
            },
        ] => {
            assert_eq!((*got, j.room.id), (id, RoomId(3)));
        }
        other => panic!("the join answered by the other node, not {other:?}"),
    }
    assert!(matches!(s.state(), SessionState::InRoom(_)));
}

#[test]
fn failed_attempts_back_off_and_an_unreachable_node_closes_the_session() {
    let mut now = t0();
    let (mut s, id) = redirected(SessionConfig::default(), now);
    events(&mut s);
    assert!(s.poll_connect(now));
    s.connection_failed(now);
    let mut attempts = 1;
    while !s.is_closed() && attempts < 50 {
        let at = s.poll_timeout().expect("the next attempt or the end");
        now = Now {
            at,
            unix_us: now.unix_us,
        };
        s.handle_timeout(now);
        if s.poll_connect(now) {
            attempts += 1;
            s.handle_connection_lost(now, None);
        }
    }
    assert!(s.is_closed(), "the reservation's 2 s ran out");
    let evs = events(&mut s);
    assert!(
        evs.iter().any(|e| matches!(
            e,
            SessionEvent::Lost(LostReason::Unreachable { node, .. }) if node == "b"
        )),
        "{evs:?}"
    );
    assert!(
        evs.iter().any(|e| matches!(
            e,
            SessionEvent::Answered { id: got, result: Err(RequestFailure::Closed) } if *got == id
        )),
        "the request ends with the session: {evs:?}"
    );
    assert!(attempts > 2, "{attempts} attempts in 2 s");
}

#[test]
fn without_following_the_request_fails_with_the_redirect() {
    let now = t0();
    let config = SessionConfig {
        follow_redirects: false,
        ..SessionConfig::default()
    };
    let (mut s, id) = redirected(config, now);
    match events(&mut s).as_slice() {
        [
            SessionEvent::Answered {
                id: got,
                result: Err(RequestFailure::Redirected(r)),
            },
        ] => {
            assert_eq!((*got, r.node.as_str()), (id, "b"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.state(), &SessionState::Lobby, "still here");
    assert!(!s.poll_connect(now));
}

#[test]
fn a_redirect_nothing_waits_for_is_ignored() {
    let now = t0();
    let mut s = session(SessionConfig::default());
    s.handle(now, welcome());
    drain(&mut s, now);
    s.handle(now, redirect(99));
    assert_eq!(s.state(), &SessionState::Lobby);
    assert!(
        events(&mut s)
            .iter()
            .all(|e| !matches!(e, SessionEvent::Redirected { .. }))
    );
    assert!(drain(&mut s, now).is_empty());
}
