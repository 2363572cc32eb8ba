//! One address cannot starve the others, and probes are answered while
//! game connections are saturated: an address that floods completed
//! WebSocket upgrades and never says `Hello` is held to its own cap of
//! pending handshakes (the excess refused with `handshake_ip_limit`,
//! counted), while a witness player from another address joins and plays
//! with every checksum correct, and `/healthz` on the admin port answers
//! within a second even when the game port refuses everyone
//! (`server_full`). The admin port has a bound of its own (64
//! connections), refused with `503 admin_full` and counted.
//!
//! The addresses: the whole of 127.0.0.0/8 is loopback on Linux, so the
//! flood binds its sockets to 127.0.0.2 and 127.0.0.3 while the witness
//! connects from 127.0.0.1.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use support::{TestServer, WAIT};
use tickwire_client::{Event, RoomSpec};
use tickwire_shared::arena::ArenaInput;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const UPGRADE: &str = "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// Opens a connection from `from` and asks for a WebSocket upgrade;
/// returns the answer's status (101: upgraded, now waiting for `Hello`)
/// and the stream (kept open by the caller), or the refusal's body.
async fn upgrade_from(from: Ipv4Addr, server: SocketAddr) -> (u16, String, TcpStream) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(IpAddr::V4(from), 0))
        .expect("bind a loopback source address");
    let mut stream = socket.connect(server).await.expect("connect");
    stream.write_all(UPGRADE.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let read = async {
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.expect("read") == 0 {
                break;
            }
            head.push(byte[0]);
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("upgrade answered in time");
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut body = String::new();
    if status != 101 {
        let _ =
            tokio::time::timeout(Duration::from_secs(1), stream.read_to_string(&mut body)).await;
    }
    (status, body, stream)
}

/// `GET /healthz` on the admin port, timed.
async fn timed_admin_healthz(server: &TestServer) -> (u16, Duration) {
    let began = Instant::now();
    let (status, _) = server.admin_get("/healthz").await;
    (status, began.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_flood_from_one_address_starves_neither_players_nor_probes() {
    const PER_IP: usize = 16;
    const MAX_CONNECTIONS: usize = 24;
    let server = TestServer::start_with(|config| {
        config.admin_bind = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.limits.max_pending_handshakes_per_ip = PER_IP;
        config.limits.max_pending_handshakes = 64;
        config.limits.max_connections = MAX_CONNECTIONS;
        // The flood's upgrades stay pending for the whole test.
        config.timeouts.handshake_ms = 20_000;
    })
    .await;

    // The flood: twice its cap of upgrades from 127.0.0.2, all completed
    // and never greeted. Its own cap refuses the excess.
    let flooder = Ipv4Addr::new(127, 0, 0, 2);
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..PER_IP * 2 {
        let (status, body, stream) = upgrade_from(flooder, server.addr).await;
        match status {
            101 => held.push(stream),
            503 => {
                assert_eq!(body.trim(), "handshake_ip_limit");
                refused += 1;
            }
            other => panic!("unexpected answer {other}: {body}"),
        }
    }
    assert_eq!(held.len(), PER_IP, "the address's cap, no more");
    assert_eq!(refused, PER_IP);
    assert_eq!(
        server
            .metric("tickwire_connections_rejected_total{reason=\"handshake_ip_limit\"}")
            .await,
        PER_IP as f64
    );

    // Another address joins and plays meanwhile.
    let mut witness = tickwire_client::Client::builder(server.ws_url())
        .name("witness")
        .connect_timeout(WAIT)
        .connect()
        .await
        .expect("another address still gets through the handshake");
    tokio::time::timeout(WAIT, witness.create_room(RoomSpec::new("during a flood")))
        .await
        .expect("created in time")
        .expect("room");

    // Fill every game connection from a third address (its own pending
    // cap is not reached): now the game port refuses everyone.
    let third = Ipv4Addr::new(127, 0, 0, 3);
    let mut full = false;
    for _ in 0..MAX_CONNECTIONS {
        let (status, body, stream) = upgrade_from(third, server.addr).await;
        match status {
            101 => held.push(stream),
            503 => {
                assert_eq!(body.trim(), "server_full");
                full = true;
                break;
            }
            other => panic!("unexpected answer {other}: {body}"),
        }
    }
    assert!(full, "the game connections are saturated");

    // The witness plays on; the admin port answers every probe at once.
    let mut applied = 0;
    let mut failed = 0;
    let mut slowest = Duration::ZERO;
    let play = async {
        while applied < 60 {
            match witness
                .next_event()
                .await
                .expect("the witness stays connected")
            {
                Event::Update(_) => {
                    applied += 1;
                    let input = ArenaInput {
                        move_x: 1.0,
                        ..Default::default()
                    };
                    witness.send_input(&input).await.expect("input sent");
                    if applied % 10 == 0 {
                        let (status, took) = timed_admin_healthz(&server).await;
                        assert_eq!(status, 200);
                        slowest = slowest.max(took);
                    }
                }
                Event::UpdateFailed(_) => failed += 1,
                Event::Closed(closed) => panic!("the witness was closed: {closed:?}"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), play)
        .await
        .expect("updates keep coming during the flood");
    assert_eq!(failed, 0, "every update applied, every checksum right");
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz on the admin port took {slowest:?}"
    );
    let (status, metrics) = server.admin_get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("tickwire_connections_rejected_total{reason=\"server_full\"}"),
        "the saturation is counted"
    );
    // The game port's own HTTP is refused while saturated: that is what
    // the admin port is for.
    let (status, body, _) = upgrade_from(Ipv4Addr::LOCALHOST, server.addr).await;
    assert_eq!((status, body.trim()), (503, "server_full"));
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_port_has_a_bound_of_its_own_and_says_when_it_is_reached() {
    let server = TestServer::start_with(|config| {
        config.admin_bind = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    let admin = server.admin_addr.expect("an admin port");
    // 64 connections that never send a request hold every admin slot.
    let mut held = Vec::new();
    for _ in 0..64 {
        held.push(TcpStream::connect(admin).await.expect("connect"));
    }
    let mut refused = TcpStream::connect(admin).await.expect("connect");
    let mut answer = String::new();
    let _ = tokio::time::timeout(WAIT, refused.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.ends_with("admin_full\n"), "{answer}");
    assert_eq!(
        server
            .metric("tickwire_connections_rejected_total{reason=\"admin_full\"}")
            .await,
        1.0
    );
    // The game port is untouched by it, and the admin port recovers.
    assert_eq!(server.get("/healthz").await.0, 200);
    drop(held);
    let deadline = Instant::now() + WAIT;
    // Until the server notices the held connections are gone, the port is
    // still at its cap: it may answer 503 and reset.
    while !matches!(
        support::try_request_from(admin, "GET", "/healthz", &[], "").await,
        Ok((200, _))
    ) {
        assert!(Instant::now() < deadline, "the admin port never recovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
