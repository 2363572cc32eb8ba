//! A whole session over real QUIC on loopback, with a raw quinn client:
//! handshake and lobby on the control stream, updates as datagrams, inputs
//! (with a piggybacked ack) as datagrams, and a graceful shutdown that
//! reaches the client as a `Close` frame and the application close code.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use quinn::{Endpoint, RecvStream, SendStream};
use rustls::pki_types::CertificateDer;
use tickwire_server::config::ServerConfig;
use tickwire_server::{Games, Server};
use tickwire_shared::arena::{Arena, ArenaConfig, ArenaInput, SCHEMA};
use tickwire_shared::client::Replica;
use tickwire_shared::codec;
use tickwire_shared::game::GameOptions;
use tickwire_shared::protocol::*;

const WAIT: Duration = Duration::from_secs(5);

async fn write(send: &mut SendStream, message: &ClientMessage) {
    let mut frame = Vec::new();
    codec::encode_client(message, &mut frame).expect("encodes");
    send.write_all(&(frame.len() as u32).to_le_bytes())
        .await
        .expect("length");
    send.write_all(&frame).await.expect("frame");
}

async fn read(recv: &mut RecvStream) -> ServerMessage {
    let mut len = [0u8; 4];
    tokio::time::timeout(WAIT, recv.read_exact(&mut len))
        .await
        .expect("in time")
        .expect("length");
    let mut frame = vec![0u8; u32::from_le_bytes(len) as usize];
    recv.read_exact(&mut frame).await.expect("frame");
    codec::decode_server(&frame, codec::MAX_SERVER_FRAME).expect("decodes")
}

fn datagram(message: &ClientMessage) -> Bytes {
    let mut frame = Vec::new();
    codec::encode_client(message, &mut frame).expect("encodes");
    Bytes::from(frame)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_runs_over_quic_and_ends_with_a_reason() {
    // A certificate from files, as in production.
    let dir = std::env::temp_dir().join(format!("tickwire-quic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    std::fs::write(dir.join("cert.pem"), key.cert.pem()).expect("cert file");
    std::fs::write(dir.join("key.pem"), key.signing_key.serialize_pem()).expect("key file");
    let cert: CertificateDer<'static> = key.cert.der().clone();

    let config = ServerConfig {
        bind: "127.0.0.1:0".parse().expect("addr"),
        quic_bind: Some("127.0.0.1:0".parse().expect("addr")),
        tls_cert: Some(dir.join("cert.pem")),
        tls_key: Some(dir.join("key.pem")),
        ..ServerConfig::default()
    };
    // No drain: the stop below closes the player in its room at once.
    let mut config = config;
    config.timeouts.drain_ms = 0;
    let server = Server::bind(config, Games::new().with::<Arena>(ArenaConfig::default()))
        .await
        .expect("binds");
    let quic_addr = server.quic_addr().expect("QUIC endpoint");
    assert!(server.tls_fingerprint().is_some());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    // The client: TLS 1.3 trusting that certificate, ALPN tickwire/1.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("root");
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"tickwire/1".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic crypto");
    let endpoint = Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client endpoint");
    let connecting = endpoint
        .connect_with(
            quinn::ClientConfig::new(Arc::new(crypto)),
            quic_addr,
            "localhost",
        )
        .expect("connect");
    let connection = tokio::time::timeout(WAIT, connecting)
        .await
        .expect("in time")
        .expect("handshake");
    let (mut send, mut recv) = connection.open_bi().await.expect("control stream");

    write(
        &mut send,
        &ClientMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            client_name: "quic".into(),
            auth_ticket: None,
            resume_token: None,
            resume_from: None,
        }),
    )
    .await;
    assert!(matches!(read(&mut recv).await, ServerMessage::Welcome(_)));
    let create = CreateRoom {
        game: None,
        join_options: GameOptions::default(),
        request_id: 1,
        name: "udp".into(),
        visibility: Visibility::Public,
        max_players: 4,
        options: GameOptions::default(),
        join_as: Some(Role::Player),
    };
    write(&mut send, &ClientMessage::CreateRoom(create)).await;
    let joined = loop {
        match read(&mut recv).await {
            ServerMessage::Joined(j) => break j,
            ServerMessage::Ping(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(joined.room.players, 1);

    // Updates arrive as datagrams; answer each with an input datagram that
    // carries the ack, and see deltas against the previous tick come back.
    let mut replica = Replica::new(SCHEMA);
    let (mut applied, mut deltas_age_1) = (0, 0);
    let mut seq = 0;
    while applied < 30 {
        let bytes = tokio::time::timeout(WAIT, connection.read_datagram())
            .await
            .expect("in time")
            .expect("datagram");
        let Ok(ServerMessage::Update(update)) =
            codec::decode_server(&bytes, codec::MAX_SERVER_FRAME)
        else {
            panic!("a datagram that is not an update")
        };
        let tick = replica.apply(&update).expect("checksum matches").tick;
        applied += 1;
        if update.baseline.is_some_and(|b| tick.since(b) == Some(1)) {
            deltas_age_1 += 1;
        }
        seq += 1;
        let mut input = Vec::new();
        codec::encode_value(
            &ArenaInput {
                move_x: 1.0,
                ..ArenaInput::default()
            },
            &mut input,
        )
        .expect("input");
        let inputs = Inputs {
            newest_seq: seq,
            inputs: vec![input],
            ack: Some(tick),
        };
        connection
            .send_datagram(datagram(&ClientMessage::Inputs(inputs)))
            .expect("send datagram");
    }
    assert!(
        deltas_age_1 >= 20,
        "acks in input datagrams keep deltas against the previous tick: {deltas_age_1}"
    );

    // Graceful shutdown: the Close frame on the stream, then the close code.
    let _ = stop.send(());
    let close = loop {
        match read(&mut recv).await {
            ServerMessage::Close(c) => break c,
            _ => continue,
        }
    };
    assert_eq!(close.reason, CloseReason::ServerShutdown);
    match tokio::time::timeout(WAIT, connection.closed())
        .await
        .expect("closed in time")
    {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code, quinn::VarInt::from_u32(1001))
        }
        other => panic!("unexpected end {other:?}"),
    }
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("stops")
        .expect("no panic")
        .expect("clean");
    let _ = std::fs::remove_dir_all(&dir);
}
