//! `tickwire-server token` mints a development token with the configured
//! key; the server started with the same flags lets its holder in (its
//! name from the token), refuses a client without one with `AuthFailed`,
//! and an open server says at WARN that it is open.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tickwire_client::{Client, ClientError};
use tickwire_server::auth::JwtAuthenticator;
use tickwire_server::config::{AuthConfig, Secret};
use tickwire_shared::protocol::CloseReason;

use support::{signal, start, wait_exit};

fn secret_file(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickwire-token-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("secret");
    std::fs::write(&path, "development secret\n").expect("secret written");
    path
}

fn mint(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire-server"))
        .arg("token")
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

#[test]
fn the_token_subcommand_prints_a_token_the_configured_key_verifies() {
    let secret = secret_file("verify");
    let token = mint(&[
        "--sub",
        "alice",
        "--ttl",
        "1h",
        "--name",
        "Alice",
        "--claim",
        "team=red",
        "--claim",
        "level=7",
        "--jwt-secret-file",
        secret.to_str().unwrap(),
        "--jwt-issuer",
        "studio",
    ]);
    let auth = JwtAuthenticator::from_config(&AuthConfig {
        enabled: true,
        secret: Some(Secret::new("development secret")),
        issuer: Some("studio".into()),
        ..AuthConfig::default()
    })
    .expect("authenticator");
    let identity = auth.verify(&token).expect("the printed token verifies");
    assert_eq!(identity.subject, "alice");
    assert_eq!(identity.name.as_deref(), Some("Alice"));
    assert_eq!(identity.claims["team"], "red");
    assert_eq!(identity.claims["level"], 7);
    let exp = identity.claims["exp"].as_u64().unwrap();
    let iat = identity.claims["iat"].as_u64().unwrap();
    assert_eq!(exp - iat, 3600, "--ttl 1h");

    // Without a key there is nothing to sign with.
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire-server"))
        .args(["token", "--sub", "x"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--jwt-secret-file"));
    let _ = std::fs::remove_dir_all(secret.parent().unwrap());
}

#[tokio::test]
async fn the_server_with_the_same_flags_lets_the_holder_in_and_refuses_others() {
    let secret = secret_file("serve");
    let secret_arg = secret.to_str().unwrap();
    let (mut child, addr, _logs) = start(&["--jwt-secret-file", secret_arg]);
    let url = format!("ws://{addr}/ws");
    let token = mint(&[
        "--sub",
        "bob",
        "--name",
        "Bob",
        "--jwt-secret-file",
        secret_arg,
    ]);
    let client = Client::builder(url.as_str())
        .name("bob-client")
        .auth_ticket(token)
        .connect()
        .await
        .expect("the minted token is accepted");
    drop(client);
    match Client::builder(url.as_str()).name("anon").connect().await {
        Err(ClientError::Rejected { reason, message }) => {
            assert_eq!(reason, CloseReason::AuthFailed);
            assert_eq!(message, "token required");
        }
        Err(other) => panic!("AuthFailed, not {other}"),
        Ok(_) => panic!("a client without a token got in"),
    }
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());

    // An open server says so at start.
    let (mut child, _, logs) = start(&[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut warned = false;
    while !warned && std::time::Instant::now() < deadline {
        if let Ok(line) = logs.recv_timeout(Duration::from_millis(200)) {
            warned = line.contains("WARN") && line.contains("no authentication configured");
        }
    }
    signal(&child, libc::SIGTERM);
    let _ = wait_exit(&mut child, Duration::from_secs(10));
    assert!(warned, "an open server warns at start");
    let _ = std::fs::remove_dir_all(secret.parent().unwrap());
}
