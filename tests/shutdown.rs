//! Graceful shutdown: every client, in a room or in the lobby, is told why
//! with a `Close` message and a WebSocket close frame (1001), and the server
//! returns promptly.

mod support;

use std::time::{Duration, Instant};

use support::{Client, TestServer, code_of};
use tickwire_shared::protocol::*;
use tickwire_shared::tick::Tick;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_client_with_a_reason() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let mut player = Client::greeted(&server, "player").await;
    player
        .create_room("last", Visibility::Public, 4, Some(Role::Player))
        .await
        .expect("room");
    player.until_tick(Tick(2)).await;
    let mut idle = Client::greeted(&server, "lobby").await;

    let began = Instant::now();
    let stopping = tokio::spawn(server.stop());
    for client in [&mut player, &mut idle] {
        let ending = client.ending().await;
        assert_eq!(
            ending.close.as_ref().map(|c| c.0),
            Some(CloseReason::ServerShutdown),
            "{ending:?}"
        );
        assert_eq!(ending.code, Some(code_of(CloseReason::ServerShutdown)));
        assert_eq!(code_of(CloseReason::ServerShutdown), 1001);
    }
    stopping.await.expect("no panic").expect("run returns Ok");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        began.elapsed()
    );
    assert!(player.replica_errors.is_empty());

    // Nothing listens any more.
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port is closed after shutdown"
    );
}
