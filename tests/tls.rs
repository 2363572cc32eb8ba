//! WebSocket over TLS (wss) end to end, on real loopback sockets: bots play
//! over the development certificate with its fingerprint pinned and over a
//! production certificate from PEM files; certificate errors are clear on
//! the client; plain TCP and a wrong ALPN to the TLS port fail on both
//! sides and are counted; the plain port keeps serving alongside, in the
//! same rooms.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use support::bots::{any_port, connect, pinned};
use support::{TestServer, WAIT, bots};
use tickwire_bot::behaviour::BehaviourKind;
use tickwire_bot::swarm;
use tickwire_client::{Client, ClientError, ClientTls, Event};
use tickwire_shared::arena::ArenaInput;
use tickwire_shared::protocol::{Role, RoomTarget};
use tickwire_shared::tick::Tick;

async fn tls_server() -> TestServer {
    TestServer::start_with(|c| c.tls_bind = any_port()).await
}

/// Plays for `ticks` updates; returns each rebuilt world's checksum by
/// tick.
async fn play(client: &mut Client, ticks: usize) -> BTreeMap<Tick, u32> {
    let mut seen = BTreeMap::new();
    let play = async {
        while seen.len() < ticks {
            match client.next_event().await.expect("connection stays up") {
                Event::Update(update) => {
                    let world = client.world().expect("just rebuilt");
                    seen.insert(update.tick, world.checksum());
                    let input = ArenaInput {
                        move_x: 1.0,
                        ..Default::default()
                    };
                    client.send_input(&input).await.expect("input sent");
                }
                Event::UpdateFailed(e) => panic!("update failed: {e}"),
                Event::Closed(closed) => panic!("closed: {closed:?}"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), play)
        .await
        .expect("updates arrive in time");
    seen
}

/// Waits (bounded) until a rejection counter reaches `at_least`.
async fn wait_for_rejections(server: &TestServer, reason: &str, at_least: f64) -> f64 {
    let sample = format!("tickwire_connections_rejected_total{{reason=\"{reason}\"}}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let value = server.metric(&sample).await;
        if value >= at_least || tokio::time::Instant::now() >= deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_play_over_wss_with_the_development_certificate_pinned() {
    let server = tls_server().await;
    let fp = server.tls_fingerprint.clone().expect("fingerprint");
    assert_eq!(fp.len(), 95, "{fp}");
    let config = bots::short_swarm(
        server.wss_url(),
        pinned(&server),
        2,
        4,
        BehaviourKind::Arena,
        2,
    );
    let report = swarm::run(config, |_| {}).await;
    bots::assert_clean(&report, 8, 20.0);
    assert_eq!(report.transport, "wss");
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_production_certificate_from_pem_files_verifies_against_its_ca() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("leaf params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf cert");

    let dir: PathBuf =
        std::env::temp_dir().join(format!("tickwire-tls-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert_path, key_path) = (dir.join("chain.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, format!("{}{}", leaf.pem(), ca_cert.pem())).expect("chain");
    std::fs::write(&key_path, leaf_key.serialize_pem()).expect("key");

    let server = TestServer::start_with(|c| {
        c.tls_bind = any_port();
        c.tls_cert = Some(cert_path.clone());
        c.tls_key = Some(key_path.clone());
    })
    .await;
    assert_eq!(
        server.tls_fingerprint.as_deref(),
        Some(tickwire_client::fingerprint(leaf.der()).as_str())
    );
    let roots = ClientTls::Roots(vec![ca_cert.der().clone()]);
    let mut client = connect(&server.wss_url(), "prod", &roots)
        .await
        .expect("verifies against the private CA");
    client
        .quick_join(tickwire_client::QuickJoinSpec::default())
        .await
        .expect("joins");
    let seen = play(&mut client, 10).await;
    assert_eq!(seen.len(), 10);
    // By name too: the certificate is for localhost.
    let by_name = format!(
        "wss://localhost:{}/ws",
        server.tls_addr.expect("tls").port()
    );
    connect(&by_name, "by-name", &roots)
        .await
        .expect("localhost verifies")
        .close()
        .await;
    client.close().await;
    server.stop().await.expect("clean shutdown");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn certificate_errors_are_clear_on_the_client() {
    let server = tls_server().await;
    let url = server.wss_url();

    let err = connect(&url, "verify", &ClientTls::Verify)
        .await
        .expect_err("a self-signed certificate is not trusted by default");
    let ClientError::Tls(reason) = &err else {
        panic!("expected a TLS error, got {err:?}");
    };
    assert!(
        reason.contains("UnknownIssuer") || reason.contains("invalid peer certificate"),
        "{reason}"
    );

    let wrong = ClientTls::Fingerprint(["AB"; 32].join(":"));
    let err = connect(&url, "wrong", &wrong)
        .await
        .expect_err("a wrong pin is refused");
    let ClientError::Tls(reason) = &err else {
        panic!("expected a TLS error, got {err:?}");
    };
    assert!(reason.contains("fingerprint mismatch"), "{reason}");

    let lower = ClientTls::Fingerprint(server.tls_fingerprint.clone().expect("fp").to_lowercase());
    connect(&url, "lower", &lower)
        .await
        .expect("pins are case-insensitive")
        .close()
        .await;
    connect(&url, "insecure", &ClientTls::Insecure)
        .await
        .expect("insecure connects")
        .close()
        .await;
    // The server saw the refused handshakes (the clients' alerts).
    assert!(wait_for_rejections(&server, "tls_handshake_failed", 2.0).await >= 2.0);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test]
async fn plain_tcp_and_a_wrong_alpn_to_the_tls_port_fail_on_both_sides() {
    let server = tls_server().await;
    let tls_addr = server.tls_addr.expect("tls");

    let err = connect(&format!("ws://{tls_addr}/ws"), "plain", &ClientTls::Verify)
        .await
        .expect_err("plain WebSocket to the TLS port fails");
    assert!(!matches!(err, ClientError::Timeout), "{err:?}");
    assert!(wait_for_rejections(&server, "tls_handshake_failed", 1.0).await >= 1.0);

    // A TLS client offering only h2.
    let mut config = ClientTls::Insecure.client_config().expect("config");
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(tls_addr).await.expect("tcp");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let handshake = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp);
    let err = tokio::time::timeout(WAIT, handshake)
        .await
        .expect("answers in time")
        .expect_err("no common ALPN protocol");
    assert!(
        err.to_string()
            .to_lowercase()
            .contains("noapplicationprotocol")
            || err
                .to_string()
                .to_lowercase()
                .contains("no_application_protocol"),
        "{err}"
    );
    assert!(wait_for_rejections(&server, "tls_handshake_failed", 2.0).await >= 2.0);

    // The plain port is unaffected.
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, 200);
    server.stop().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_and_wss_players_share_a_room_and_see_the_same_world() {
    let server = tls_server().await;
    let mut secure = connect(&server.wss_url(), "secure", &pinned(&server))
        .await
        .expect("wss connects");
    let joined = secure
        .create_room(tickwire_client::RoomSpec::new("mixed").max_players(4))
        .await
        .expect("creates");
    let mut plain = connect(&server.ws_url(), "plain", &ClientTls::Verify)
        .await
        .expect("ws connects");
    plain
        .join(RoomTarget::Id(joined.room.id), Role::Player)
        .await
        .expect("joins the same room");

    let (a, b) = tokio::join!(play(&mut secure, 30), play(&mut plain, 30));
    let common: Vec<_> = a.keys().filter(|t| b.contains_key(t)).collect();
    assert!(common.len() >= 10, "only {} common ticks", common.len());
    for tick in common {
        assert_eq!(a[tick], b[tick], "worlds differ at {tick:?}");
    }
    secure.close().await;
    plain.close().await;
    server.stop().await.expect("clean shutdown");
}
