//! Pings ride with ticks: a room member's heartbeat pings leave on the
//! room's tick instants (so they never wake the server between ticks), and
//! the client library can carry its own ping in the write of its next
//! input.

mod support;

use std::time::Duration;

use support::bots::connect;
use support::{Client, TestServer, WALK_RIGHT};
use tickwire_bot::client::{AckMode, ClientEvent, ClientTls};
use tickwire_shared::protocol::{Role, ServerMessage, Visibility};

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
async fn the_client_library_sends_a_queued_ping_with_its_next_input() {
    let server = TestServer::start().await;
    let mut client = connect(&server.ws_url(), "pinger", &ClientTls::Verify)
        .await
        .expect("connects");
    client
        .create_room("pings", Visibility::Public, 4, Default::default())
        .await
        .expect("creates and joins");
    // Acknowledgements ride with inputs, so the client sends nothing of its
    // own accord but the pongs that answer the server's pings.
    client.set_ack_mode(AckMode::WithInput);

    client.ping_with_next_input();
    let before = client.traffic().messages_out;
    let mut pongs = 0;
    // Until an input goes, the ping waits: updates arrive, no answer does.
    let mut updates = 0;
    while updates < 5 {
        match client.next_event().await.expect("connection stays up") {
            ClientEvent::Update(_) => updates += 1,
            ClientEvent::Rtt(_) => panic!("a pong arrived before the ping was sent"),
            ClientEvent::Other(ServerMessage::Ping(_)) => pongs += 1,
            ClientEvent::Closed(reason) => panic!("closed: {reason:?}"),
            _ => {}
        }
    }
    assert_eq!(client.traffic().messages_out, before + pongs, "no ping yet");

    client.send_input(&WALK_RIGHT).await.expect("input sent");
    assert_eq!(
        client.traffic().messages_out,
        before + pongs + 2,
        "input and ping"
    );
    let rtt = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match client.next_event().await.expect("connection stays up") {
                ClientEvent::Rtt(us) => return us,
                ClientEvent::Other(ServerMessage::Ping(_)) => pongs += 1,
                ClientEvent::Closed(reason) => panic!("closed: {reason:?}"),
                _ => {}
            }
        }
    })
    .await
    .expect("the server answers the ping");
    assert!(rtt < 1_000_000, "round trip of {rtt} µs");

    // The queued ping went once: the next input travels alone.
    client.send_input(&WALK_RIGHT).await.expect("input sent");
    assert_eq!(client.traffic().messages_out, before + pongs + 3);
    server.stop().await.expect("clean shutdown");
}
