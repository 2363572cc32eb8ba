//! Swarm helpers shared by the end-to-end suites that run bots.

use std::net::SocketAddr;
use std::time::Duration;

use tickwire_bot::behaviour::{BehaviourKind, ChaosMix};
use tickwire_client::{Client, ClientError, ClientTls};

use super::{TestServer, WAIT};

/// An ephemeral port on 127.0.0.1, for the optional listeners.
pub fn any_port() -> Option<SocketAddr> {
    Some(SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// Pins the certificate of a server's TLS port or QUIC endpoint.
pub fn pinned(server: &TestServer) -> ClientTls {
    ClientTls::Fingerprint(server.tls_fingerprint.clone().expect("a certificate"))
}

/// Connects and greets with the client library, failing the test rather
/// than hanging.
pub async fn connect(url: &str, name: &str, tls: &ClientTls) -> Result<Client, ClientError> {
    let connect = Client::builder(url).name(name).tls(tls.clone()).connect();
    tokio::time::timeout(WAIT, connect)
        .await
        .expect("connect answers in time (no hang)")
}
use tickwire_bot::report::Report;
use tickwire_bot::swarm::{JoinMode, SwarmConfig};

/// A short swarm: `rooms` x `players` bots of `behaviour` against `url`,
/// measuring for `seconds` after a brief ramp-up and settle.
pub fn short_swarm(
    url: String,
    tls: ClientTls,
    rooms: usize,
    players: usize,
    behaviour: BehaviourKind,
    seconds: u64,
) -> SwarmConfig {
    SwarmConfig {
        url,
        tls,
        rooms,
        players,
        duration: Duration::from_secs(seconds),
        ramp_up: Duration::from_millis(300),
        settle: Duration::from_millis(200),
        threads: 2,
        seed: 1,
        behaviour,
        chaos: ChaosMix::default(),
        join: JoinMode::CreateRooms,
        events_per_second: 0.0,
        quiet: true,
        tokens: None,
        storm_at: None,
        verify_every: 1,
        first_bot: 0,
        network: None,
    }
}

/// Asserts a clean run: it passes as a gate, every planned bot joined, no
/// checksum mismatch, undecodable update or error among the well-behaved
/// bots, and at least `min_rate` updates per bot per second.
pub fn assert_clean(report: &Report, planned: usize, min_rate: f64) {
    let w = &report.well_behaved;
    assert!(
        report.passed(),
        "failures: {:?}\n{}",
        report.failures,
        report.summary()
    );
    assert_eq!(
        (report.bots.planned, report.bots.joined),
        (planned, planned)
    );
    assert_eq!(w.checksum_mismatches, 0);
    assert_eq!(w.decode_errors, 0);
    assert!(w.errors.is_empty(), "{:?}", w.errors);
    assert!(
        w.updates_per_bot_per_s > min_rate,
        "{} updates per bot per second",
        w.updates_per_bot_per_s
    );
}
