//! The real binary: it starts on the port it is given, serves a WebSocket
//! client, and on SIGTERM (and SIGINT) closes the client with reason
//! `ServerShutdown` and exits 0 within a few seconds.

mod support;

use std::process::Command;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tickwire_shared::codec;
use tickwire_shared::protocol::*;
use tokio_tungstenite::tungstenite::Message;

use support::{signal, start, wait_exit};

async fn greeted_client(
    addr: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connects");
    let hello = ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: "signals".into(),
        auth_ticket: None,
        resume_token: None,
        resume_from: None,
    });
    let mut frame = Vec::new();
    codec::encode_client(&hello, &mut frame).expect("encodes");
    ws.send(Message::Binary(frame.into())).await.expect("sends");
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("welcome in time");
        let Some(Ok(Message::Binary(bytes))) = next else {
            panic!("connection ended before Welcome")
        };
        if let Ok(ServerMessage::Welcome(_)) = codec::decode_server(&bytes, codec::MAX_SERVER_FRAME)
        {
            return ws;
        }
    }
}

async fn shutdown_on(signal_number: libc::c_int) {
    let (mut child, addr, _logs) = start(&[]);
    let mut ws = greeted_client(&addr).await;
    signal(&child, signal_number);
    let (mut reason, mut code) = (None, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, ws.next()).await {
        match message {
            Message::Binary(bytes) => {
                if let Ok(ServerMessage::Close(close)) =
                    codec::decode_server(&bytes, codec::MAX_SERVER_FRAME)
                {
                    reason = Some(close.reason);
                }
            }
            Message::Close(frame) => code = frame.map(|f| u16::from(f.code)),
            _ => {}
        }
    }
    assert_eq!(reason, Some(CloseReason::ServerShutdown));
    assert_eq!(code, Some(1001));
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn sigterm_closes_clients_with_a_reason_and_exits_cleanly() {
    shutdown_on(libc::SIGTERM).await;
}

#[tokio::test]
async fn sigint_does_the_same() {
    shutdown_on(libc::SIGINT).await;
}

#[tokio::test]
async fn an_invalid_setting_is_refused_at_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_tickwire-server"))
        .args(["--bind", "127.0.0.1:0", "--max-rooms", "0"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max_rooms"), "{stderr}");
}
