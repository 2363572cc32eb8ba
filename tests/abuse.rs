//! Abuse bounds end to end, each while a witness player in a room of its
//! own keeps playing with every checksum correct and no tick missed: rooms
//! created a minute per client and per address (`RateLimited`, counted), a
//! room created and never joined disposed after its short grace,
//! spectators served a fixed number of ticks behind the players, and the
//! browser `Origin` allow-list on WebSocket upgrades, plain and TLS (403,
//! counted).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use support::TestServer;
use tickwire_client::{Client, ClientError, ErrorCode, Event, RoomFilter, RoomSpec, RoomTarget};
use tickwire_shared::arena::{self, ArenaInput};
use tickwire_shared::protocol::Role;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

/// The longest any single wait here may take.
const WAIT: Duration = Duration::from_secs(5);

async fn arena_client(server: &TestServer, name: &str) -> Client {
    support::game_client(server, name, arena::SCHEMA).await
}

/// A player in a room of its own that plays on between the steps of a
/// test: every update must apply (checksum verified) and follow the last
/// one by exactly one tick.
struct Witness {
    client: Client,
    last: Option<u32>,
    /// The checksum of the world at every tick it saw.
    worlds: BTreeMap<u32, u32>,
}

impl Witness {
    async fn start(server: &TestServer) -> Self {
        let mut client = arena_client(server, "witness").await;
        client
            .create_room(RoomSpec::new("witness"))
            .await
            .expect("the witness's room");
        Self {
            client,
            last: None,
            worlds: BTreeMap::new(),
        }
    }

    /// Plays until it has seen `ticks` more ticks.
    async fn play(&mut self, ticks: u32) {
        let target = self.last.unwrap_or(0) + ticks;
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.last.is_none_or(|last| last < target) {
            let next = tokio::time::timeout_at(deadline, self.client.next_event())
                .await
                .expect("updates keep coming")
                .expect("the witness stays connected");
            match next {
                Event::Update(_) => {
                    let world = self.client.world().expect("a world after an update");
                    let tick = world.tick.0;
                    if let Some(last) = self.last {
                        assert_eq!(tick, last + 1, "the witness misses no tick");
                    }
                    self.last = Some(tick);
                    self.worlds.insert(tick, world.checksum());
                    let input = ArenaInput {
                        move_x: if tick % 60 < 30 { 1.0 } else { -1.0 },
                        move_y: 0.5,
                        aim: tick as f32 * 0.05,
                        fire: tick.is_multiple_of(10),
                    };
                    self.client.send_input(&input).await.expect("input");
                }
                Event::UpdateFailed(e) => panic!("the witness's update failed: {e:?}"),
                _ => {}
            }
        }
    }
}

fn refused_code(result: Result<impl std::fmt::Debug, ClientError>) -> (ErrorCode, String) {
    match result {
        Err(ClientError::Refused(e)) => (e.code, e.message),
        other => panic!("refused, not {other:?}"),
    }
}

#[tokio::test]
async fn room_creation_is_rate_limited_per_client_and_per_address() {
    let server = TestServer::start_with(|c| {
        c.limits.rooms_per_minute_per_client = 3;
        // The witness's room and five more from this address.
        c.limits.rooms_per_minute_per_ip = 6;
    })
    .await;
    let mut witness = Witness::start(&server).await;
    witness.play(5).await;

    let mut greedy = arena_client(&server, "greedy").await;
    for n in 0..3 {
        greedy
            .create_room_unjoined(RoomSpec::new(format!("r{n}")))
            .await
            .expect("within the client's allowance");
    }
    let (code, message) = refused_code(greedy.create_room_unjoined(RoomSpec::new("r3")).await);
    assert_eq!(code, ErrorCode::RateLimited);
    assert_eq!(message, "at most 3 rooms a minute per client");
    witness.play(10).await;

    // Another client from the same address has its own allowance, but
    // the address's is nearly spent: two more, then refused.
    let mut accomplice = arena_client(&server, "accomplice").await;
    for n in 0..2 {
        accomplice
            .create_room_unjoined(RoomSpec::new(format!("a{n}")))
            .await
            .expect("within the address's allowance");
    }
    let (code, message) = refused_code(accomplice.create_room_unjoined(RoomSpec::new("a2")).await);
    assert_eq!(code, ErrorCode::RateLimited);
    assert_eq!(message, "at most 6 rooms a minute per address");
    assert_eq!(
        server
            .metric("tickwire_errors_total{kind=\"room_rate_limited\"}")
            .await,
        2.0
    );
    // Both sessions go on.
    assert!(greedy.list_rooms(RoomFilter::default()).await.is_ok());
    assert!(accomplice.list_rooms(RoomFilter::default()).await.is_ok());
    witness.play(10).await;
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn a_room_created_and_never_joined_is_disposed_after_the_short_grace() {
    let server = TestServer::start_with(|c| {
        c.timeouts.empty_room_ms = 10_000;
        c.timeouts.unjoined_room_ms = 400;
    })
    .await;
    let mut witness = Witness::start(&server).await;
    witness.play(5).await;
    let mut creator = arena_client(&server, "creator").await;
    let abandoned = creator
        .create_room_unjoined(RoomSpec::new("abandoned"))
        .await
        .expect("created");
    let listed = |rooms: &[tickwire_client::RoomInfo]| rooms.iter().any(|r| r.id == abandoned.id);
    let rooms = creator.list_rooms(RoomFilter::default()).await.unwrap();
    assert!(listed(&rooms), "listed while young");
    // 400 ms at 30 Hz is 12 ticks; give it 30.
    witness.play(30).await;
    let rooms = creator.list_rooms(RoomFilter::default()).await.unwrap();
    assert!(!listed(&rooms), "disposed: nobody joined it");
    assert_eq!(server.metric("tickwire_rooms_unjoined_total").await, 1.0);
    let (code, _) = refused_code(
        creator
            .join(RoomTarget::Id(abandoned.id), Role::Player)
            .await,
    );
    assert_eq!(code, ErrorCode::RoomNotFound);
    // The witness's room, joined, is untouched.
    witness.play(10).await;
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn spectators_see_the_world_a_fixed_number_of_ticks_behind_the_players() {
    const DELAY: u32 = 15;
    let server = TestServer::start_with(|c| c.spectator_delay_ticks = DELAY).await;
    let mut witness = Witness::start(&server).await;
    // Past tick DELAY, so that the spectator's first update has a world
    // to show (before it, spectators get none).
    witness.play(2 * DELAY).await;
    let room = witness.client.room().expect("in a room").room.id;
    let mut watcher = arena_client(&server, "watcher").await;
    let joined = watcher
        .join(RoomTarget::Id(room), Role::Spectator)
        .await
        .expect("spectates");
    // The spectator reads in its own task; the witness plays meanwhile.
    let watching = tokio::spawn(async move {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(2_000);
        while let Ok(next) = tokio::time::timeout_at(deadline, watcher.next_event()).await {
            match next.expect("the watcher stays connected") {
                Event::Update(_) => {
                    let world = watcher.world().expect("a world");
                    seen.push((world.tick.0, world.checksum()));
                }
                Event::UpdateFailed(e) => panic!("the watcher's update failed: {e:?}"),
                _ => {}
            }
        }
        seen
    });
    witness.play(70).await;
    let seen = watching.await.expect("the watcher's task");
    let newest_played = witness.last.unwrap();
    assert!(seen.len() > 20, "the spectator got updates: {}", seen.len());
    let (first, _) = seen[0];
    assert!(
        first < joined.tick.0 && first + DELAY <= joined.tick.0 + 3,
        "the first update is from the past: tick {first}, joined at {}",
        joined.tick.0
    );
    for &(tick, checksum) in &seen {
        assert_eq!(
            witness.worlds.get(&tick),
            Some(&checksum),
            "the spectator's world at {tick} is the players' world at {tick}"
        );
    }
    let (newest_seen, _) = *seen.last().unwrap();
    assert!(
        newest_seen + DELAY <= newest_played + 3 && newest_played <= newest_seen + DELAY + 40,
        "spectators {DELAY} ticks behind: saw {newest_seen}, played {newest_played}"
    );
    server.stop().await.expect("clean stop");
}

/// Upgrades with `origin` (if any), on the plain port or (with `tls`) the
/// TLS port; the HTTP status of a refusal.
async fn upgrade(server: &TestServer, tls: bool, origin: Option<&str>) -> Result<(), StatusCode> {
    let url = match server.tls_addr {
        Some(addr) if tls => format!("wss://{addr}/ws"),
        _ => server.ws_url(),
    };
    let mut request = url.as_str().into_client_request().expect("a request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("Origin", HeaderValue::from_str(origin).unwrap());
    }
    if !tls {
        return outcome(tokio_tungstenite::connect_async(request).await).await;
    }
    let config = support::bots::pinned(server)
        .client_config()
        .expect("a TLS config");
    let tcp = tokio::net::TcpStream::connect(server.tls_addr.expect("a TLS port"))
        .await
        .expect("tcp");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS");
    outcome(tokio_tungstenite::client_async(request, stream).await).await
}

/// Closes an upgraded WebSocket, or says the status it was refused with.
async fn outcome<S, R>(
    upgraded: Result<(WebSocketStream<S>, R), tokio_tungstenite::tungstenite::Error>,
) -> Result<(), StatusCode>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match upgraded {
        Ok((mut ws, _)) => {
            let _ = ws.close(None).await;
            Ok(())
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status()),
        Err(e) => panic!("an HTTP answer, not {e}"),
    }
}

#[tokio::test]
async fn websocket_upgrades_from_origins_not_allowed_get_403() {
    let server = TestServer::start_with(|c| {
        c.allowed_origins = vec!["https://play.example.com".into()];
        c.tls_bind = support::bots::any_port();
    })
    .await;
    let mut witness = Witness::start(&server).await;
    witness.play(5).await;
    for tls in [false, true] {
        assert_eq!(
            upgrade(&server, tls, Some("https://evil.example")).await,
            Err(StatusCode::FORBIDDEN),
            "tls: {tls}"
        );
        assert_eq!(
            upgrade(&server, tls, Some("https://play.example.com")).await,
            Ok(()),
            "an allowed origin connects (tls: {tls})"
        );
        assert_eq!(
            upgrade(&server, tls, None).await,
            Ok(()),
            "no Origin: not a browser, allowed (tls: {tls})"
        );
        witness.play(5).await;
    }
    assert_eq!(
        server
            .metric("tickwire_connections_rejected_total{reason=\"origin_refused\"}")
            .await,
        2.0
    );
    witness.play(10).await;
    server.stop().await.expect("clean stop");
}
