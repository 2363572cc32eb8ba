//! Pings ride with ticks: a room pings its members with their updates, on
//! its tick instants (so pings never wake the server between ticks), and
//! answers a member's ping with the next update, saying how long the
//! answer waited; the client library carries its own ping, and its answer
//! to the server's, in the write of its next input.

mod support;

use std::time::Duration;

use support::bots::connect;
use support::{Client, TestServer, WALK_RIGHT};
use tickwire_client::{AckMode, ClientTls, Event, RoomSpec, unix_us};
use tickwire_shared::protocol::{ClientMessage, Ping, Role, ServerMessage, Visibility};

#[tokio::test]
async fn a_room_members_heartbeat_pings_leave_on_tick_instants() {
    let server = TestServer::start_with(|c| c.timeouts.heartbeat_ms = 115).await;
    let mut client = Client::greeted(&server, "beat").await;
    let joined = match client
        .create_room("beat", Visibility::Public, 4, Some(Role::Player))
        .await
    {
        Ok(ServerMessage::Joined(joined)) => joined,
        other => panic!("unexpected answer {other:?}"),
    };
    let period_us = joined.tick_rate.period().as_micros() as u64;

    // How far each ping left from the nearest tick instant. 115 ms is not
    // a whole number of ticks: pings on their own clock would drift across
    // the period (median ~period/4 away); on tick instants (every 3 ticks,
    // 100 ms) they are a scheduling delay away.
    let mut offsets = Vec::new();
    while offsets.len() < 9 {
        let message = client.recv().await.expect("connection stays open");
        if let ServerMessage::Ping(ping) = message {
            let phase = ping.sent_at_us.saturating_sub(joined.tick_zero_unix_us) % period_us;
            offsets.push(phase.min(period_us - phase));
        }
    }
    offsets.sort_unstable();
    let median = offsets[offsets.len() / 2];
    assert!(
        median < period_us / 8,
        "pings left a median {median} µs from a tick instant ({offsets:?} µs; period {period_us} µs)"
    );
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_room_answers_a_members_ping_with_the_next_update_saying_how_long_it_waited() {
    let server = TestServer::start_with(|c| c.timeouts.heartbeat_ms = 100).await;
    let mut client = Client::greeted(&server, "held").await;
    client
        .create_room("held", Visibility::Public, 4, Some(Role::Player))
        .await
        .expect("creates and joins");
    // Just after an update, a ping arrives early in the tick: its answer
    // waits for the next update.
    let mut previous = client.recv().await.expect("connection stays open");
    while !matches!(previous, ServerMessage::Update(_)) {
        previous = client.recv().await.expect("connection stays open");
    }
    let sent_at_us = unix_us();
    client.send(&ClientMessage::Ping(Ping { sent_at_us })).await;
    let (mut pong, mut pings) = (None, 0);
    for _ in 0..200 {
        let message = client.recv().await.expect("connection stays open");
        let after_update = matches!(previous, ServerMessage::Update(_));
        match &message {
            ServerMessage::Pong(answer) => {
                assert!(after_update, "the pong came with an update");
                pong = Some((*answer, unix_us()));
            }
            ServerMessage::Ping(_) => {
                assert!(after_update, "the server's ping came with an update");
                pings += 1;
            }
            _ => {}
        }
        if pong.is_some() && pings >= 3 {
            break;
        }
        // A ping and a pong of the same tick travel together after the
        // update: what they follow is the last other message.
        if !matches!(message, ServerMessage::Ping(_) | ServerMessage::Pong(_)) {
            previous = message;
        }
    }
    let (pong, arrived_us) = pong.expect("the ping was answered");
    assert_eq!(pong.ping_sent_at_us, sent_at_us);
    let round_trip = arrived_us - sent_at_us;
    assert!(pong.held_us > 0, "the answer waited for the next tick");
    assert!(
        u64::from(pong.held_us) <= round_trip,
        "held {} µs within a round trip of {round_trip} µs",
        pong.held_us
    );
    assert_eq!(
        pong.rtt_us(arrived_us),
        round_trip - u64::from(pong.held_us)
    );
    assert!(pings >= 3, "the room pings every 3 ticks");
    // The client answered them: the server reports its round-trip times.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.metric("tickwire_rtt_seconds_count").await < 3.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "round trips never reached the metrics"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_client_library_answers_a_server_ping_with_its_next_input_or_the_next_update() {
    let server = TestServer::start_with(|c| c.timeouts.heartbeat_ms = 100).await;
    // Messages are kept so that the test sees the server's pings arrive.
    let mut client = tickwire_client::Client::builder(server.ws_url())
        .name("answers")
        .keep_messages(true)
        .connect()
        .await
        .expect("connects");
    client
        .create_room(RoomSpec::new("answers").max_players(4))
        .await
        .expect("creates and joins");
    client.set_ack_mode(AckMode::WithInput);
    let next_ping = async |client: &mut tickwire_client::Client| {
        // Skip what was read before: a ping seen late may be answered by now.
        while let Some(Ok(Some(_))) = futures_util::FutureExt::now_or_never(client.next_message()) {
        }
        for _ in 0..1_000 {
            let message = client.next_message().await.expect("connection stays up");
            if let Some(ServerMessage::Ping(_)) = message {
                // Events read on the way are old news.
                while client.poll_event().is_some() {}
                return;
            }
        }
        panic!("no server ping in 1000 messages");
    };

    // An input carries the answer along: one write, two messages.
    next_ping(&mut client).await;
    let before = client.traffic().messages_out;
    client.send_input(&WALK_RIGHT).await.expect("input sent");
    assert_eq!(client.traffic().messages_out, before + 2, "input and pong");

    // With no input, the answer goes on its own once an update arrives.
    next_ping(&mut client).await;
    let before = client.traffic().messages_out;
    let mut updates = 0;
    while client.traffic().messages_out == before {
        if let Event::Update(_) = client.next_event().await.expect("connection stays up") {
            updates += 1;
            assert!(updates <= 3, "the held answer never went");
        }
    }
    assert_eq!(client.traffic().messages_out, before + 1, "the pong alone");
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_client_library_sends_a_queued_ping_with_its_next_input() {
    // No server pings during the test: only the client's own.
    let server = TestServer::start_with(|c| c.timeouts.heartbeat_ms = 4_000).await;
    let mut client = connect(&server.ws_url(), "pinger", &ClientTls::Verify)
        .await
        .expect("connects");
    client
        .create_room(RoomSpec::new("pings").max_players(4))
        .await
        .expect("creates and joins");
    // Acknowledgements ride with inputs, so the client sends nothing of its
    // own accord.
    client.set_ack_mode(AckMode::WithInput);

    client.ping_with_next_input();
    let before = client.traffic().messages_out;
    // Until an input goes, the ping waits: updates arrive, no answer does.
    let mut updates = 0;
    while updates < 5 {
        match client.next_event().await.expect("connection stays up") {
            Event::Update(_) => updates += 1,
            Event::Rtt(_) => panic!("a pong arrived before the ping was sent"),
            Event::Closed(closed) => panic!("closed: {closed:?}"),
            _ => {}
        }
    }
    assert_eq!(client.traffic().messages_out, before, "no ping yet");

    client.send_input(&WALK_RIGHT).await.expect("input sent");
    assert_eq!(client.traffic().messages_out, before + 2, "input and ping");
    let rtt = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match client.next_event().await.expect("connection stays up") {
                Event::Rtt(rtt) => return rtt.as_micros(),
                Event::Closed(closed) => panic!("closed: {closed:?}"),
                _ => {}
            }
        }
    })
    .await
    .expect("the server answers the ping");
    assert!(rtt < 1_000_000, "round trip of {rtt} µs");

    // The queued ping went once: the next input travels alone.
    client.send_input(&WALK_RIGHT).await.expect("input sent");
    assert_eq!(client.traffic().messages_out, before + 3);
    server.stop().await.expect("clean shutdown");
}
