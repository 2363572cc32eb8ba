//! Session timeouts: a client that goes silent is closed with `IdleTimeout`
//! (checked on each heartbeat), and one that keeps answering stays open.

mod support;

use std::time::{Duration, Instant};

use support::{Client, TestServer, code_of};
use tickwire_shared::protocol::*;

#[tokio::test]
async fn a_silent_client_is_closed_as_idle_and_a_live_one_is_not() {
    let server = TestServer::start_with(|c| {
        c.timeouts.idle_ms = 600;
        c.timeouts.heartbeat_ms = 100;
    })
    .await;

    // Answers every ping (recv does) for well past the idle limit, while
    // the other client reads and sends nothing after its Hello (the client
    // library answers a ping as it reads it, so the silent one reads only
    // once the server has had time to close it; the exact moment is the
    // harness's to check, in virtual time).
    let mut live = Client::greeted(&server, "live").await;
    let mut silent = Client::greeted(&server, "silent").await;
    let keep_alive = async {
        let until = Instant::now() + Duration::from_millis(2_000);
        while Instant::now() < until {
            assert!(live.recv().await.is_some(), "the live client was dropped");
        }
    };
    let started = Instant::now();
    let wait_for_close = async {
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let ending = silent.ending().await;
        (ending, started.elapsed())
    };
    let ((), (ending, waited)) = tokio::join!(keep_alive, wait_for_close);
    assert_eq!(
        ending.close.as_ref().map(|c| c.0),
        Some(CloseReason::IdleTimeout),
        "{ending:?}"
    );
    assert_eq!(ending.code, Some(code_of(CloseReason::IdleTimeout)));
    assert!(
        waited < Duration::from_secs(3),
        "closed too late: {waited:?}"
    );

    assert_eq!(
        live.list().await.len(),
        0,
        "the live client still answers requests"
    );
    server.stop().await.expect("clean stop");
}
