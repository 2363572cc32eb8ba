//! Authentication end to end: a server that verifies JSON Web Tokens in
//! `Hello`, clients on the client library over loopback WebSockets. A valid
//! token gets in and the game's join hook sees its identity (chat tells
//! the others the newcomer's verified account); expired, not-yet-valid,
//! wrong-audience, wrong-signature, malformed and missing tokens are each
//! refused with `AuthFailed` and a reason the client can show, counted by
//! cause; meanwhile a witness player in an arena room keeps playing with
//! every checksum correct.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use support::TestServer;
use tickwire_client::{Client, ClientError, Event, RoomSpec, RoomTarget, ServerEvent};
use tickwire_server::config::{AuthConfig, Secret};
use tickwire_shared::arena::{self, ArenaInput};
use tickwire_shared::chat;
use tickwire_shared::protocol::{CloseReason, Role};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(5);
/// Updates the witness plays through at least (half a second at 30 Hz).
const MIN_UPDATES: u64 = 15;
const SECRET: &str = "shared with the login backend";

fn auth() -> AuthConfig {
    AuthConfig {
        enabled: true,
        secret: Some(Secret::new(SECRET)),
        issuer: Some("studio-login".into()),
        audience: Some("tickwire".into()),
        leeway_s: 5,
        ..AuthConfig::default()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// A token for `sub` signed with `secret`, the standard claims overridden
/// (or removed, with null) by `extra`.
fn token_with(secret: &str, sub: &str, extra: Value) -> String {
    let mut claims = json!({
        "sub": sub, "iss": "studio-login", "aud": "tickwire",
        "iat": now(), "exp": now() + 600,
    });
    for (key, value) in extra.as_object().expect("an object") {
        if value.is_null() {
            claims.as_object_mut().expect("object").remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

fn token(sub: &str, extra: Value) -> String {
    token_with(SECRET, sub, extra)
}

async fn client(
    server: &TestServer,
    name: &str,
    ticket: Option<String>,
    schema: tickwire_shared::schema::Schema,
) -> Result<Client, ClientError> {
    let mut builder = Client::builder(server.ws_url()).name(name).schema(schema);
    if let Some(ticket) = ticket {
        builder = builder.auth_ticket(ticket);
    }
    builder.connect().await
}

/// A seated arena player in its own task: applies every update, sends an
/// input per update, and counts updates that failed their checksum.
struct Witness {
    stop: oneshot::Sender<()>,
    task: JoinHandle<(u64, u64)>,
}

impl Witness {
    async fn start(server: &TestServer) -> Self {
        Self::start_with_ticket(server, &token("witness", json!({}))).await
    }

    async fn start_with_ticket(server: &TestServer, ticket: &str) -> Self {
        let mut witness = client(server, "witness", Some(ticket.into()), arena::SCHEMA)
            .await
            .expect("the witness's token is good");
        witness
            .create_room(RoomSpec::new("witnessed"))
            .await
            .expect("witness's room");
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let (mut updates, mut failed, mut stopping) = (0, 0, false);
            loop {
                // Stops when told, once it has played at least
                // `MIN_UPDATES` ticks.
                if stopping && updates >= MIN_UPDATES {
                    return (updates, failed);
                }
                tokio::select! {
                    _ = &mut stopped, if !stopping => stopping = true,
                    next = tokio::time::timeout(WAIT, witness.next_event()) => {
                        match next.expect("updates keep coming").expect("the witness stays connected") {
                            Event::Update(_) => {
                                updates += 1;
                                let input = ArenaInput { move_x: 1.0, ..ArenaInput::default() };
                                witness.send_input(&input).await.expect("input");
                            }
                            Event::UpdateFailed(_) => failed += 1,
                            Event::Closed(closed) => panic!("the witness was closed: {closed:?}"),
                            _ => {}
                        }
                    }
                }
            }
        });
        Self { stop, task }
    }

    /// Stops the witness; every update applied with its checksum, and
    /// enough of them.
    async fn finish(self) {
        let _ = self.stop.send(());
        let (updates, failed) = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("witness stops")
            .expect("witness did not panic");
        assert_eq!(failed, 0, "every update applied with its checksum");
        assert!(
            updates >= MIN_UPDATES,
            "the witness kept playing: {updates} updates"
        );
    }
}

async fn next_server_event(client: &mut Client) -> ServerEvent {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let next = tokio::time::timeout_at(deadline, client.next_event())
            .await
            .expect("the event in time")
            .expect("connection open");
        if let Event::Event(event) = next {
            return event;
        }
    }
}

#[tokio::test]
async fn a_valid_token_gets_in_and_the_game_sees_who_it_is() {
    let server = TestServer::start_with(|config| config.auth = auth()).await;
    let witness = Witness::start(&server).await;

    let mut alice = client(
        &server,
        "a-client",
        Some(token("alice", json!({"name": "Alice"}))),
        chat::SCHEMA,
    )
    .await
    .expect("alice's token is good");
    let room = alice
        .create_room(RoomSpec::new("lounge").game("chat"))
        .await
        .expect("chat room")
        .room
        .id;
    assert_eq!(next_server_event(&mut alice).await.name(), "welcome");
    let mut bob = client(
        &server,
        "b-client",
        Some(token("bob", json!({"name": "Bob", "team": "red"}))),
        chat::SCHEMA,
    )
    .await
    .expect("bob's token is good");
    bob.join(RoomTarget::Id(room), Role::Player)
        .await
        .expect("bob joins");
    // The join hook saw the identity: the token's name is the member's
    // name, and chat tells the others the verified account.
    let heard = next_server_event(&mut alice).await;
    assert_eq!(heard.name(), "member_joined");
    let presence: Value = heard.data().expect("json");
    assert_eq!(presence["name"], "Bob", "{presence}");
    assert_eq!(presence["account"], "bob", "{presence}");

    witness.finish().await;
    server.stop().await.expect("clean stop");
}

#[tokio::test]
async fn bad_tokens_are_refused_with_the_reason_counted_and_nobody_else_is_affected() {
    let server = TestServer::start_with(|config| config.auth = auth()).await;
    let witness = Witness::start(&server).await;
    let t = now();
    let cases: [(&str, Option<String>, &str, &str); 8] = [
        (
            "expired",
            Some(token("eve", json!({"exp": t - 60}))),
            "token expired",
            "expired",
        ),
        (
            "not yet valid",
            Some(token("eve", json!({"nbf": t + 600}))),
            "token not yet valid",
            "not_yet_valid",
        ),
        (
            "wrong audience",
            Some(token("eve", json!({"aud": "another-game"}))),
            "wrong audience",
            "wrong_audience",
        ),
        (
            "wrong issuer",
            Some(token("eve", json!({"iss": "mallory"}))),
            "wrong issuer",
            "wrong_issuer",
        ),
        (
            "wrong signature",
            Some(token_with("guessed secret", "eve", json!({}))),
            "bad signature",
            "bad_signature",
        ),
        (
            "malformed",
            Some("not a token at all".into()),
            "malformed token",
            "malformed",
        ),
        (
            "no subject",
            Some(token("eve", json!({"sub": null}))),
            "malformed token",
            "malformed",
        ),
        ("missing", None, "token required", "required"),
    ];
    for (case, ticket, message, _) in &cases {
        match client(&server, "eve", ticket.clone(), arena::SCHEMA).await {
            Err(ClientError::Rejected {
                reason,
                message: told,
            }) => {
                assert_eq!(reason, CloseReason::AuthFailed, "{case}");
                assert_eq!(&told, message, "{case}");
            }
            Err(other) => panic!("{case}: AuthFailed, not {other}"),
            Ok(_) => panic!("{case}: got in"),
        }
    }
    for label in [
        "expired",
        "not_yet_valid",
        "wrong_audience",
        "wrong_issuer",
        "bad_signature",
        "required",
    ] {
        assert_eq!(
            server
                .metric(&format!(
                    "tickwire_auth_failures_total{{reason=\"{label}\"}}"
                ))
                .await,
            1.0,
            "{label}"
        );
    }
    assert_eq!(
        server
            .metric("tickwire_auth_failures_total{reason=\"malformed\"}")
            .await,
        2.0
    );
    assert_eq!(
        server
            .metric("tickwire_connections_rejected_total{reason=\"auth_failed\"}")
            .await,
        cases.len() as f64
    );
    // A good token still gets in afterwards.
    client(
        &server,
        "late",
        Some(token("late", json!({}))),
        arena::SCHEMA,
    )
    .await
    .expect("a good token after the bad ones");
    witness.finish().await;
    server.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_mints_a_token_per_bot_and_every_bot_gets_in() {
    let server = TestServer::start_with(|config| config.auth = auth()).await;
    let url = tickwire_bot::swarm::ws_url(&format!("ws://{}", server.addr));
    let mut config = support::bots::short_swarm(
        url,
        Default::default(),
        2,
        4,
        tickwire_bot::behaviour::BehaviourKind::Arena,
        1,
    );
    let mut tokens = tickwire_bot::tokens::BotTokens::hs256(SECRET.as_bytes());
    tokens.issuer = Some("studio-login".into());
    tokens.audience = Some("tickwire".into());
    config.tokens = Some(tokens);
    let report = tickwire_bot::swarm::run(config, |_| {}).await;
    support::bots::assert_clean(&report, 8, 20.0);
    assert_eq!(
        server
            .metric("tickwire_connections_rejected_total{reason=\"auth_failed\"}")
            .await,
        0.0
    );
    server.stop().await.expect("clean stop");
}

/// An embedder's authenticator: asks "the studio's service" (here a
/// table, or a service that never answers).
#[derive(Debug)]
struct Studio;

impl tickwire_server::Authenticator for Studio {
    fn authenticate<'a>(
        &'a self,
        ticket: &'a str,
        _peer: std::net::SocketAddr,
    ) -> tickwire_server::auth::AuthFuture<'a> {
        Box::pin(async move {
            match ticket {
                "session-cookie-of-zoe" => Ok(tickwire_shared::game::Identity {
                    subject: "zoe".into(),
                    name: Some("Zoe".into()),
                    claims: Default::default(),
                }),
                "banned" => Err(tickwire_server::AuthError::Refused(
                    "this account is suspended".into(),
                )),
                _ => {
                    // The service hangs: the handshake deadline decides.
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    Err(tickwire_server::AuthError::Unavailable("down".into()))
                }
            }
        })
    }
}

#[tokio::test]
async fn an_embedders_authenticator_decides_within_the_handshake_deadline() {
    let server = TestServer::start_authenticating(|_| {}, Some(std::sync::Arc::new(Studio))).await;
    let witness = Witness::start_with_ticket(&server, "session-cookie-of-zoe").await;
    let refused = |result: Result<Client, ClientError>| match result {
        Err(ClientError::Rejected { reason, message }) => {
            assert_eq!(reason, CloseReason::AuthFailed);
            message
        }
        Err(other) => panic!("AuthFailed, not {other}"),
        Ok(_) => panic!("got in"),
    };
    let banned = client(&server, "b", Some("banned".into()), arena::SCHEMA).await;
    assert_eq!(refused(banned), "this account is suspended");
    let started = std::time::Instant::now();
    let hung = client(&server, "h", Some("anything".into()), arena::SCHEMA).await;
    assert_eq!(refused(hung), "authentication timed out");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the 1 s handshake deadline, not the service: {:?}",
        started.elapsed()
    );
    assert_eq!(
        server
            .metric("tickwire_auth_failures_total{reason=\"timed_out\"}")
            .await,
        1.0
    );
    witness.finish().await;
    server.stop().await.expect("clean stop");
}

/// An account sits once: a second session signing in as the same account
/// replaces the first, which is closed with `Replaced`; with the first's
/// resume token it takes the seat back, with no token it starts afresh.
#[tokio::test]
async fn an_account_sits_once_and_a_second_sign_in_replaces_the_first() {
    let server = TestServer::start_with(|c| {
        c.auth = auth();
        c.timeouts.idle_ms = 60_000;
    })
    .await;
    let mut first = client(&server, "ann", Some(token("ann", json!({}))), arena::SCHEMA)
        .await
        .expect("signs in");
    let joined = first
        .create_room(RoomSpec::new("one"))
        .await
        .expect("a room");
    let resume = first.resume_token().expect("a token");

    let mut second = Client::builder(server.ws_url())
        .name("ann")
        .schema(arena::SCHEMA)
        .auth_ticket(token("ann", json!({})))
        .resume(resume)
        .connect()
        .await
        .expect("signs in again");
    assert_eq!(second.player(), first.player(), "the seat came back");
    let deadline = tokio::time::Instant::now() + WAIT;
    while second.room().is_none() {
        tokio::time::timeout_at(deadline, second.next_event())
            .await
            .expect("the Joined in time")
            .expect("open");
    }
    assert_eq!(second.room().map(|j| j.room.id), Some(joined.room.id));
    let deadline = tokio::time::Instant::now() + WAIT;
    let reason = loop {
        match tokio::time::timeout_at(deadline, first.next_event())
            .await
            .expect("the first session ends in time")
        {
            Ok(Event::Closed(closed)) => break closed.reason,
            Ok(_) => {}
            Err(e) => panic!("closed with a reason, not {e:?}"),
        }
    };
    assert_eq!(reason, Some(CloseReason::Replaced));

    // Without the token: the account still sits once; the newcomer starts
    // afresh and the session before it is replaced.
    let third = client(&server, "ann", Some(token("ann", json!({}))), arena::SCHEMA)
        .await
        .expect("signs in a third time");
    assert_ne!(third.player(), second.player(), "a fresh session");
    let deadline = tokio::time::Instant::now() + WAIT;
    let reason = loop {
        match tokio::time::timeout_at(deadline, second.next_event())
            .await
            .expect("the second session ends in time")
        {
            Ok(Event::Closed(closed)) => break closed.reason,
            Ok(_) => {}
            Err(e) => panic!("closed with a reason, not {e:?}"),
        }
    };
    assert_eq!(reason, Some(CloseReason::Replaced));
    // Another account is no one's replacement.
    let other = client(&server, "bob", Some(token("bob", json!({}))), arena::SCHEMA)
        .await
        .expect("bob signs in");
    assert_ne!(other.player(), second.player());
    server.stop().await.expect("clean stop");
}
