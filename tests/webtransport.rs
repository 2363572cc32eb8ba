//! WebTransport end to end over real UDP on loopback, with wtransport's
//! client doing what a browser page does: it reads `GET /webtransport`,
//! connects to the URL with the certificate hash (wtransport then checks
//! the browser's rules: ECDSA P-256, at most two weeks of validity), opens
//! the control stream, greets, plays an arena room over datagrams with the
//! reference replica, and closes. Refusals: a wrong path (404), a
//! disallowed `Origin` (403), a frame over the limit (`FrameTooLarge`), a
//! wrong hash; a shutdown reaches a session with its reason.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use support::{TestServer, WAIT, WALK_RIGHT, avatar, hello};
use tickwire_server::config::ServerConfig;
use tickwire_shared::arena::SCHEMA;
use tickwire_shared::client::{Replica, ReplicaError};
use tickwire_shared::codec::{self, MAX_SERVER_FRAME};
use tickwire_shared::game::GameOptions;
use tickwire_shared::ids::PlayerId;
use tickwire_shared::protocol::{
    Ack, ClientMessage, Close, CloseReason, CreateRoom, Inputs, Pong, Role, ServerMessage,
    Visibility,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wtransport::endpoint::endpoint_side::Client;
use wtransport::endpoint::{ConnectOptions, IntoConnectOptions};
use wtransport::error::{ConnectingError, ConnectionError};
use wtransport::tls::Sha256Digest;
use wtransport::{ClientConfig, Connection, Endpoint, SendStream};

/// Fourteen days: the longest validity browsers take a certificate by its
/// hash for.
const TWO_WEEKS_S: i64 = 14 * 24 * 3600;

/// A server with a WebTransport endpoint on an ephemeral loopback port.
async fn wt_server(tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
    TestServer::start_with(|c| {
        c.webtransport_bind = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        tweak(c);
    })
    .await
}

/// What `GET /webtransport` tells a page.
#[derive(Debug)]
struct Info {
    url: String,
    hash: [u8; 32],
    valid_until_unix_s: i64,
}

async fn info(server: &TestServer) -> Info {
    let (status, body) = server.get("/webtransport").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    let hashes = json["certificate_hashes"].as_array().expect("an array");
    assert_eq!(hashes.len(), 1, "{body}");
    assert_eq!(hashes[0]["algorithm"], "sha-256");
    let value = hashes[0]["value"].as_str().expect("base64");
    let hash = base64::engine::general_purpose::STANDARD
        .decode(value)
        .expect("standard base64");
    Info {
        url: json["url"].as_str().expect("a url").to_owned(),
        hash: hash.try_into().expect("32 bytes"),
        valid_until_unix_s: json["valid_until_unix_s"].as_i64().expect("seconds"),
    }
}

/// A client endpoint on loopback that accepts the server by `hash`, with
/// the browser's rules.
fn client(hash: [u8; 32]) -> Endpoint<Client> {
    let config = ClientConfig::builder()
        .with_bind_address(SocketAddr::from(([127, 0, 0, 1], 0)))
        .with_server_certificate_hashes([Sha256Digest::new(hash)])
        .build();
    Endpoint::client(config).expect("client endpoint")
}

/// How a server message came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Stream,
    Datagram,
}

/// A session as a page holds it: the connection, the control stream's
/// sending half, and whole control frames read by a task of their own (a
/// length-prefixed read is not cancel-safe; the task ends with the
/// stream, and is aborted when the session is dropped).
struct Session {
    conn: Connection,
    send: SendStream,
    frames: mpsc::Receiver<Vec<u8>>,
    reader: JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Session {
    /// Connects and opens the control stream.
    async fn open(
        endpoint: &Endpoint<Client>,
        options: impl IntoConnectOptions,
    ) -> Result<Self, ConnectingError> {
        let conn = tokio::time::timeout(WAIT, endpoint.connect(options))
            .await
            .expect("connect answered in time")?;
        let opening = async { conn.open_bi().await.expect("opening").await };
        let (send, mut recv) = tokio::time::timeout(WAIT, opening)
            .await
            .expect("stream in time")
            .expect("stream opens");
        let (tx, frames) = mpsc::channel(256);
        let reader = tokio::spawn(async move {
            loop {
                let mut len = [0u8; 4];
                if recv.read_exact(&mut len).await.is_err() {
                    return;
                }
                let len = u32::from_le_bytes(len) as usize;
                assert!(len <= MAX_SERVER_FRAME, "a server frame of {len} bytes");
                let mut frame = vec![0u8; len];
                if recv.read_exact(&mut frame).await.is_err() || tx.send(frame).await.is_err() {
                    return;
                }
            }
        });
        Ok(Self {
            conn,
            send,
            frames,
            reader,
        })
    }

    /// Writes raw bytes on the control stream.
    async fn write(&mut self, bytes: &[u8]) {
        tokio::time::timeout(WAIT, self.send.write_all(bytes))
            .await
            .expect("written in time")
            .expect("written");
    }

    /// Sends a message on the control stream.
    async fn send(&mut self, message: &ClientMessage) {
        let mut frame = Vec::new();
        codec::encode_client(message, &mut frame).expect("encodes");
        let mut framed = (frame.len() as u32).to_le_bytes().to_vec();
        framed.extend_from_slice(&frame);
        self.write(&framed).await;
    }

    /// Sends a message as a datagram.
    fn send_datagram(&self, message: &ClientMessage) {
        let mut frame = Vec::new();
        codec::encode_client(message, &mut frame).expect("encodes");
        self.conn.send_datagram(frame).expect("datagram sent");
    }

    /// The next server message and how it came, or `None` once the
    /// control stream has ended.
    async fn next(&mut self) -> Option<(ServerMessage, Via)> {
        let next = async {
            tokio::select! {
                frame = self.frames.recv() => frame.map(|f| (f, Via::Stream)),
                datagram = self.conn.receive_datagram() => {
                    datagram.ok().map(|d| (d.payload().to_vec(), Via::Datagram))
                }
            }
        };
        let (bytes, via) = tokio::time::timeout(WAIT, next)
            .await
            .expect("a server message in time")?;
        let message = codec::decode_server(&bytes, MAX_SERVER_FRAME).expect("decodes");
        Some((message, via))
    }

    /// Reads until `pick` takes a message, answering pings (bounded by
    /// `WAIT` overall).
    async fn expect<T>(&mut self, mut pick: impl FnMut(ServerMessage) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            assert!(tokio::time::Instant::now() < deadline, "nothing came");
            let (message, _) = self.next().await.expect("still open");
            if let ServerMessage::Ping(ping) = message {
                self.send(&ClientMessage::Pong(Pong::answering(
                    ping,
                    unix_us(),
                    Duration::ZERO,
                )))
                .await;
                continue;
            }
            if let Some(found) = pick(message) {
                return found;
            }
        }
    }

    /// Says `Hello` and returns the player id of the `Welcome`.
    async fn greet(&mut self, name: &str) -> PlayerId {
        self.send(&ClientMessage::Hello(hello(name))).await;
        self.expect(|m| match m {
            ServerMessage::Welcome(w) => Some(w.player),
            other => panic!("expected Welcome, got {other:?}"),
        })
        .await
    }

    /// How the session ended: the `Close` message on the stream (if one
    /// came) and the connection's application close code.
    async fn ending(&mut self) -> (Option<Close>, Option<u64>) {
        let mut close = None;
        let deadline = tokio::time::Instant::now() + WAIT;
        while let Ok(Some((message, _))) =
            tokio::time::timeout_at(deadline, self.next_or_end()).await
        {
            if let ServerMessage::Close(c) = message {
                close = Some(c);
            }
        }
        let closed = tokio::time::timeout(WAIT, self.conn.closed())
            .await
            .expect("closed in time");
        let code = match closed {
            ConnectionError::ApplicationClosed(c) => Some(c.code().into_inner()),
            _ => None,
        };
        (close, code)
    }

    /// Like [`Session::next`], but a message that does not come in time
    /// is the end too (updates may still come as datagrams once the
    /// stream has ended).
    async fn next_or_end(&mut self) -> Option<(ServerMessage, Via)> {
        let frame = self.frames.recv().await?;
        Some((
            codec::decode_server(&frame, MAX_SERVER_FRAME).expect("decodes"),
            Via::Stream,
        ))
    }
}

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn now_unix_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn create_room(request_id: u32) -> ClientMessage {
    ClientMessage::CreateRoom(CreateRoom {
        request_id,
        game: Some("arena".into()),
        name: "browser".into(),
        visibility: Visibility::Public,
        max_players: 4,
        options: GameOptions::default(),
        join_as: Some(Role::Player),
        join_options: GameOptions::default(),
    })
}

/// The code a reason closes a connection with.
fn code(reason: CloseReason) -> u64 {
    u64::from(reason.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_plays_an_arena_room_over_datagrams_and_closes() {
    let server = wt_server(|_| {}).await;
    let addr = server.webtransport_addr.expect("a WebTransport port");

    // What the page is told.
    let info = info(&server).await;
    assert_eq!(info.url, format!("https://{addr}/tickwire"));
    let now = now_unix_s();
    assert!(
        info.valid_until_unix_s > now && info.valid_until_unix_s - now <= TWO_WEEKS_S,
        "valid until {}, now {now}",
        info.valid_until_unix_s
    );

    // The browser's rules hold, and the hash is the served certificate's.
    let endpoint = client(info.hash);
    let mut session = Session::open(&endpoint, info.url.as_str())
        .await
        .expect("the page connects with the hash");
    let chain = session.conn.peer_identity().expect("a certificate");
    let served = chain.as_slice().first().expect("a leaf");
    assert_eq!(Sha256::digest(served.der()).as_slice(), info.hash);

    let player = session.greet("browser").await;
    session.send(&create_room(1)).await;
    let joined = session
        .expect(|m| match m {
            ServerMessage::Joined(j) => Some(j),
            ServerMessage::Error(e) => panic!("refused: {e:?}"),
            _ => None,
        })
        .await;
    assert_eq!(joined.request_id, Some(1));
    assert_eq!(joined.room.game, "arena");

    // Play: apply every update with the reference replica (checksums
    // checked), send inputs as datagrams with the ack, and now and then an
    // ack alone.
    let mut replica = Replica::new(SCHEMA);
    let mut input = Vec::new();
    codec::encode_value(&WALK_RIGHT, &mut input).expect("encodes");
    let (mut applied, mut by_datagram, mut deltas, mut seq) = (0u32, 0u32, 0u32, 0u32);
    let mut first_x = None;
    let mut last_x = 0.0f32;
    let play = async {
        while applied < 60 {
            let (message, via) = session.next().await.expect("still open");
            match message {
                ServerMessage::Update(update) => match replica.apply(&update) {
                    Ok(world) => {
                        applied += 1;
                        by_datagram += u32::from(via == Via::Datagram);
                        deltas += u32::from(update.baseline.is_some());
                        let x = avatar(world, player).position.x;
                        first_x.get_or_insert(x);
                        last_x = x;
                        seq += 1;
                        session.send_datagram(&ClientMessage::Inputs(Inputs {
                            newest_seq: seq,
                            inputs: vec![input.clone()],
                            ack: replica.ack().map(|a| a.tick),
                        }));
                        if seq % 5 == 0 {
                            session.send_datagram(&ClientMessage::Ack(Ack { tick: update.tick }));
                        }
                    }
                    Err(ReplicaError::Stale { .. }) => {}
                    Err(e) => panic!("update failed: {e}"),
                },
                ServerMessage::Ping(ping) => {
                    session
                        .send(&ClientMessage::Pong(Pong::answering(
                            ping,
                            unix_us(),
                            Duration::ZERO,
                        )))
                        .await;
                }
                ServerMessage::Error(e) => panic!("error: {e:?}"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), play)
        .await
        .expect("60 updates in time");
    println!(
        "webtransport: {applied} updates applied, {by_datagram} as datagrams, {deltas} deltas"
    );
    assert!(
        by_datagram >= applied - 2,
        "updates travel as datagrams: {by_datagram} of {applied}"
    );
    assert!(
        deltas >= applied - 5,
        "acks sent as datagrams arrive: {deltas} deltas of {applied}"
    );
    let first_x = first_x.expect("an avatar");
    assert!(
        last_x > first_x + 10.0,
        "the avatar walks right: {first_x} -> {last_x}"
    );
    assert!(
        server.metric("tickwire_updates_direct_total").await > 0.0,
        "the room sent update datagrams itself"
    );

    // Close: the client's Close, the server's answer, code 1000.
    session
        .send(&ClientMessage::Close(Close {
            reason: CloseReason::Normal,
            message: "bye".into(),
        }))
        .await;
    let (close, closed_with) = session.ending().await;
    let close = close.expect("the server answers with a Close");
    assert_eq!(close.reason, CloseReason::Normal, "{close:?}");
    assert_eq!(closed_with, Some(code(CloseReason::Normal)));
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_wrong_path_is_refused_with_404_and_a_wrong_hash_by_the_client() {
    let server = wt_server(|_| {}).await;
    let info = info(&server).await;
    let addr = server.webtransport_addr.expect("a WebTransport port");
    let endpoint = client(info.hash);
    for path in ["/nope", "/ws", "/tickwire/more"] {
        let refused = Session::open(&endpoint, format!("https://{addr}{path}")).await;
        assert!(
            matches!(refused, Err(ConnectingError::SessionRejected)),
            "{path}: {:?}",
            refused.err()
        );
    }
    assert_eq!(
        server
            .metric("tickwire_connections_rejected_total{reason=\"path_not_found\"}")
            .await,
        3.0
    );
    // A page holding another certificate's hash does not connect.
    let wrong = client([0xAB; 32]);
    let refused = Session::open(&wrong, info.url.as_str()).await;
    assert!(
        matches!(refused, Err(ConnectingError::ConnectionError(_))),
        "{:?}",
        refused.err()
    );
    // The right path still works.
    let mut session = Session::open(&endpoint, info.url.as_str())
        .await
        .expect("connects");
    session.greet("after").await;
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_oversize_stream_frame_closes_with_frame_too_large() {
    let server = wt_server(|_| {}).await;
    let info = info(&server).await;
    let endpoint = client(info.hash);
    let mut session = Session::open(&endpoint, info.url.as_str())
        .await
        .expect("connects");
    session.greet("big").await;
    // A length prefix one over the limit (4 KiB), and some of its body.
    let mut framed = 4097u32.to_le_bytes().to_vec();
    framed.extend_from_slice(&[0u8; 512]);
    session.write(&framed).await;
    let (close, closed_with) = session.ending().await;
    let close = close.expect("a Close message on the stream");
    assert_eq!(close.reason, CloseReason::FrameTooLarge, "{close:?}");
    assert_eq!(closed_with, Some(code(CloseReason::FrameTooLarge)));
    assert_eq!(
        server
            .metric("tickwire_sessions_closed_total{reason=\"frame_too_large\"}")
            .await,
        1.0
    );
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_disallowed_origin_is_refused_and_a_shutdown_reaches_an_allowed_one() {
    let server = wt_server(|c| c.allowed_origins = vec!["https://play.example".into()]).await;
    let info = info(&server).await;
    let endpoint = client(info.hash);
    let with_origin = |origin: &str| {
        ConnectOptions::builder(&info.url)
            .add_header("origin", origin)
            .build()
    };
    let refused = Session::open(&endpoint, with_origin("https://evil.example")).await;
    assert!(
        matches!(refused, Err(ConnectingError::SessionRejected)),
        "{:?}",
        refused.err()
    );
    assert_eq!(
        server
            .metric("tickwire_connections_rejected_total{reason=\"origin_refused\"}")
            .await,
        1.0
    );
    let mut allowed = Session::open(&endpoint, with_origin("https://PLAY.example/"))
        .await
        .expect("an allowed origin connects");
    allowed.greet("allowed").await;
    // Without an origin (not a browser): allowed too.
    let mut native = Session::open(&endpoint, info.url.as_str())
        .await
        .expect("no origin connects");
    native.greet("native").await;
    drop(native);

    // A shutdown closes the session with its reason, on the stream and in
    // the close code.
    let stopping = tokio::spawn(server.stop());
    let (close, closed_with) = allowed.ending().await;
    let close = close.expect("a Close message");
    assert_eq!(close.reason, CloseReason::ServerShutdown, "{close:?}");
    assert_eq!(closed_with, Some(code(CloseReason::ServerShutdown)));
    stopping.await.expect("no panic").expect("clean shutdown");
}

#[tokio::test]
async fn a_configured_certificate_is_served_without_a_hash() {
    let dir = std::env::temp_dir().join(format!("tickwire-wt-cert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("generates");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).expect("write cert");
    std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write key");
    let server = wt_server(|c| {
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key.clone());
    })
    .await;
    let addr = server.webtransport_addr.expect("a WebTransport port");
    let (status, body) = server.get("/webtransport").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["url"], format!("https://{addr}/tickwire"));
    assert_eq!(json["certificate_hashes"], serde_json::json!([]));
    // rcgen's default end of validity: 4096-01-01.
    assert_eq!(json["valid_until_unix_s"], 67_090_118_400_i64);
    server.stop().await.expect("clean shutdown");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn webtransport_is_reported_disabled_without_an_endpoint() {
    let server = TestServer::start().await;
    assert!(server.webtransport_addr.is_none());
    let (status, body) = server.get("/webtransport").await;
    assert_eq!(status, 404);
    assert_eq!(body, r#"{"error":"webtransport disabled"}"#);
    server.stop().await.expect("clean shutdown");
}
