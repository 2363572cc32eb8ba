//! The operator API behind the admin token: every room with its members
//! and tick health, the server's figures over the last minutes, and the
//! actions an operator takes (kick a member, close a room). The operator
//! page (`/ops`) is built on it; so can a studio's own tools.
//!
//! Every endpoint wants `Authorization: Bearer <admin token>`; a request
//! without it, or with another token, is answered 401, logged and counted
//! (`tickwire_admin_refused_total`). The token is compared through SHA-256
//! digests, so the comparison's time does not depend on how much of a
//! guess is right.
//!
//! - `GET /api/admin/rooms`: every room (private ones too, invite codes
//!   included) with its members and tick health;
//! - `GET /api/admin/history`: one sample a second of the server's
//!   figures, the last [`HISTORY_SECONDS`];
//! - `POST /api/admin/rooms/{room}/players/{player}/kick`, optional JSON
//!   body `{"message": "..."}`: the member is told `Left { Kicked }` and
//!   the game hears it left;
//! - `POST /api/admin/rooms/{room}/close`, optional JSON body
//!   `{"message": "..."}`: every member is told `Left { RoomClosed }` and
//!   the room is disposed.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, body::Bytes};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tickwire_shared::ids::{PlayerId, RoomId};
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::room::health::HealthReport;
use crate::room::members::MemberReport;

/// Seconds of figures kept for `/api/admin/history`: five minutes.
pub const HISTORY_SECONDS: usize = 300;

/// The largest request body an action takes, bytes.
const MAX_ACTION_BODY: usize = 4 * 1024;

/// The longest message an operator may give a kick or a close, bytes (a
/// `Left` message is shown to players).
pub const MAX_ACTION_MESSAGE: usize = 256;

/// A boxed future, for the [`Operator`] trait.
pub type OperatorFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One room as an operator sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OperatorRoom {
    /// Room id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its game.
    pub game: String,
    /// `public` or `private`.
    pub visibility: &'static str,
    /// Its invite code (shown to operators only).
    pub code: Option<String>,
    /// Seats taken by players.
    pub players: u16,
    /// Player seats.
    pub max_players: u16,
    /// Spectators.
    pub spectators: u16,
    /// Whether the game locked it.
    pub locked: bool,
    /// Its public metadata.
    pub metadata: BTreeMap<String, String>,
    /// The current tick (`None`: the room did not answer in time).
    pub tick: Option<u32>,
    /// Ticks per second.
    pub tick_rate_hz: Option<u16>,
    /// Its members.
    pub members: Vec<MemberReport>,
    /// Its tick health.
    pub health: Option<HealthReport>,
}

/// Why an action could not be carried out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// No such room.
    #[error("no room {0}")]
    NoRoom(u64),
    /// No such member in the room.
    #[error("no player {player} in room {room}")]
    NoMember {
        /// The room.
        room: u64,
        /// The player.
        player: u32,
    },
    /// The room did not answer in time (stopping, or overloaded).
    #[error("room {0} did not answer")]
    NoAnswer(u64),
}

impl OperatorError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NoRoom(_) | Self::NoMember { .. } => StatusCode::NOT_FOUND,
            Self::NoAnswer(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// What the operator API asks of the server; implemented by the runtime.
pub trait Operator: Send + Sync + 'static {
    /// Every room with its members and health.
    fn rooms(&self) -> OperatorFuture<'_, Vec<OperatorRoom>>;
    /// Removes `player` from `room`, telling it `message`.
    fn kick(
        &self,
        room: RoomId,
        player: PlayerId,
        message: String,
    ) -> OperatorFuture<'_, Result<(), OperatorError>>;
    /// Closes `room`, telling its members `message`.
    fn close(&self, room: RoomId, message: String)
    -> OperatorFuture<'_, Result<(), OperatorError>>;
}

/// One second of the server's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    /// When, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Open connections.
    pub connections: i64,
    /// Rooms.
    pub rooms: i64,
    /// Players seated.
    pub players: i64,
    /// Spectators.
    pub spectators: i64,
    /// Payload bytes received per second.
    pub bytes_in_per_s: f64,
    /// Payload bytes sent per second.
    pub bytes_out_per_s: f64,
    /// Updates sent per second.
    pub updates_per_s: f64,
    /// Room ticks per second (all rooms).
    pub ticks_per_s: f64,
    /// Ticks that started more than a period late, per second.
    pub late_ticks_per_s: f64,
    /// Mean tick duration over the second, milliseconds.
    pub tick_mean_ms: f64,
}

/// The counters a sample differentiates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Totals {
    bytes_in: u64,
    bytes_out: u64,
    updates: u64,
    ticks: u64,
    late_ticks: u64,
    tick_micros: u64,
}

impl Totals {
    fn read(metrics: &Metrics) -> Self {
        Self {
            bytes_in: metrics.bytes_in.get(),
            bytes_out: metrics.bytes_out.get(),
            updates: metrics.updates_sent.get(),
            ticks: metrics.ticks.get(),
            late_ticks: metrics.late_ticks.get(),
            tick_micros: metrics.tick_micros_total(),
        }
    }
}

/// The last [`HISTORY_SECONDS`] samples, taken from the metrics by
/// [`History::sample`] once a second (the runtime's sampler task).
#[derive(Debug, Default)]
pub struct History {
    inner: Mutex<Samples>,
}

/// The samples, and the counters (with their time) the next is taken
/// against.
#[derive(Debug, Default)]
struct Samples {
    kept: VecDeque<Sample>,
    last: Option<(Totals, u64)>,
}

impl History {
    /// Takes a sample of `metrics` at `unix_ms`: gauges as they are,
    /// counters as rates since the previous sample.
    pub fn sample(&self, metrics: &Metrics, unix_ms: u64) {
        let totals = Totals::read(metrics);
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Samples {
            kept: samples,
            last,
        } = &mut *guard;
        let previous = last.replace((totals, unix_ms));
        let Some((before, at)) = previous else {
            return;
        };
        let seconds = unix_ms.saturating_sub(at) as f64 / 1e3;
        if seconds <= 0.0 {
            return;
        }
        let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / seconds;
        let ticks = totals.ticks.saturating_sub(before.ticks);
        if samples.len() == HISTORY_SECONDS {
            samples.pop_front();
        }
        samples.push_back(Sample {
            unix_ms,
            connections: metrics.connections.get(),
            rooms: metrics.rooms.get(),
            players: metrics.players.get(),
            spectators: metrics.spectators.get(),
            bytes_in_per_s: rate(totals.bytes_in, before.bytes_in),
            bytes_out_per_s: rate(totals.bytes_out, before.bytes_out),
            updates_per_s: rate(totals.updates, before.updates),
            ticks_per_s: rate(totals.ticks, before.ticks),
            late_ticks_per_s: rate(totals.late_ticks, before.late_ticks),
            tick_mean_ms: if ticks == 0 {
                0.0
            } else {
                totals.tick_micros.saturating_sub(before.tick_micros) as f64 / ticks as f64 / 1e3
            },
        });
    }

    /// The samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.kept.iter().copied().collect()
    }
}

/// What the operator endpoints read.
#[derive(Clone)]
pub struct AdminState {
    /// The server's side of the actions.
    pub operator: Arc<dyn Operator>,
    /// The figures over time.
    pub history: Arc<History>,
    /// SHA-256 of the admin token.
    pub token_digest: [u8; 32],
    /// Refusals are counted here.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState").finish_non_exhaustive()
    }
}

impl AdminState {
    /// The SHA-256 digest a token is compared by.
    pub fn digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        Self::digest(given.trim()) == self.token_digest
    }
}

/// The operator endpoints (see the module doc), to merge into the HTTP
/// router.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/api/admin/rooms", get(rooms))
        .route("/api/admin/history", get(history))
        .route("/api/admin/rooms/{room}/players/{player}/kick", post(kick))
        .route("/api/admin/rooms/{room}/close", post(close))
        .layer(DefaultBodyLimit::max(MAX_ACTION_BODY))
        .with_state(state)
}

/// A JSON error body.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error: String,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: message.into(),
        }),
    )
        .into_response()
}

/// 401 for a request without the right token, logged and counted.
fn refuse(state: &AdminState, what: &str) -> Response {
    state.metrics.admin_refused.inc();
    warn!(
        endpoint = what,
        "operator API request without the admin token refused"
    );
    let mut response = error(StatusCode::UNAUTHORIZED, "the admin token is required");
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

async fn rooms(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    if !state.authorized(&headers) {
        return refuse(&state, "rooms");
    }
    Json(state.operator.rooms().await).into_response()
}

/// `/api/admin/history`'s body.
#[derive(Debug, Serialize)]
struct HistoryBody {
    interval_s: u32,
    samples: Vec<Sample>,
}

async fn history(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    if !state.authorized(&headers) {
        return refuse(&state, "history");
    }
    Json(HistoryBody {
        interval_s: 1,
        samples: state.history.samples(),
    })
    .into_response()
}

/// An action's optional body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    #[serde(default)]
    message: String,
}

/// The message of an action's body (`default` for no body), or why the
/// body is refused (400): not `{"message": "..."}`, or too long a message.
fn action_message(body: &Bytes, default: &str) -> Result<String, String> {
    if body.is_empty() {
        return Ok(default.to_owned());
    }
    let parsed: ActionBody = serde_json::from_slice(body)
        .map_err(|e| format!("the body must be {{\"message\": \"...\"}}: {e}"))?;
    if parsed.message.len() > MAX_ACTION_MESSAGE {
        return Err(format!(
            "the message has more than {MAX_ACTION_MESSAGE} bytes"
        ));
    }
    Ok(if parsed.message.is_empty() {
        default.to_owned()
    } else {
        parsed.message
    })
}

/// `/api/admin/...` action answers.
#[derive(Debug, Serialize)]
struct Done {
    done: bool,
}

async fn kick(
    State(state): State<AdminState>,
    Path((room, player)): Path<(u64, u32)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.authorized(&headers) {
        return refuse(&state, "kick");
    }
    let message = match action_message(&body, "removed by an operator") {
        Ok(message) => message,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    match state
        .operator
        .kick(RoomId(room), PlayerId(player), message)
        .await
    {
        Ok(()) => {
            info!(room, player, "operator kicked a member");
            Json(Done { done: true }).into_response()
        }
        Err(e) => error(e.status(), e.to_string()),
    }
}

async fn close(
    State(state): State<AdminState>,
    Path(room): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.authorized(&headers) {
        return refuse(&state, "close");
    }
    let message = match action_message(&body, "closed by an operator") {
        Ok(message) => message,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    match state.operator.close(RoomId(room), message).await {
        Ok(()) => {
            info!(room, "operator closed a room");
            Json(Done { done: true }).into_response()
        }
        Err(e) => error(e.status(), e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    /// An operator with one room (3) holding one member (7).
    #[derive(Debug, Default)]
    struct Fake {
        kicked: Mutex<Vec<(u64, u32, String)>>,
        closed: Mutex<Vec<(u64, String)>>,
    }

    impl Operator for Fake {
        fn rooms(&self) -> OperatorFuture<'_, Vec<OperatorRoom>> {
            Box::pin(async {
                vec![OperatorRoom {
                    id: 3,
                    name: "r".into(),
                    game: "arena".into(),
                    visibility: "private",
                    code: Some("ABCD".into()),
                    players: 1,
                    max_players: 16,
                    spectators: 0,
                    locked: false,
                    metadata: BTreeMap::new(),
                    tick: Some(9),
                    tick_rate_hz: Some(30),
                    members: vec![MemberReport {
                        player: 7,
                        name: "ann".into(),
                        role: "player",
                        connected: true,
                    }],
                    health: Some(HealthReport::default()),
                }]
            })
        }

        fn kick(
            &self,
            room: RoomId,
            player: PlayerId,
            message: String,
        ) -> OperatorFuture<'_, Result<(), OperatorError>> {
            Box::pin(async move {
                if (room.0, player.0) != (3, 7) {
                    return Err(OperatorError::NoMember {
                        room: room.0,
                        player: player.0,
                    });
                }
                self.kicked
                    .lock()
                    .unwrap()
                    .push((room.0, player.0, message));
                Ok(())
            })
        }

        fn close(
            &self,
            room: RoomId,
            message: String,
        ) -> OperatorFuture<'_, Result<(), OperatorError>> {
            Box::pin(async move {
                if room.0 != 3 {
                    return Err(OperatorError::NoRoom(room.0));
                }
                self.closed.lock().unwrap().push((room.0, message));
                Ok(())
            })
        }
    }

    fn app() -> (Router, Arc<Fake>, Arc<Metrics>) {
        let fake = Arc::new(Fake::default());
        let metrics = Arc::new(Metrics::new());
        let state = AdminState {
            operator: Arc::clone(&fake) as Arc<dyn Operator>,
            history: Arc::new(History::default()),
            token_digest: AdminState::digest("sesame"),
            metrics: Arc::clone(&metrics),
        };
        (router(state), fake, metrics)
    }

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: &str,
    ) -> (StatusCode, String) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn every_endpoint_wants_the_token() {
        let (app, fake, metrics) = app();
        for (method, uri) in [
            ("GET", "/api/admin/rooms"),
            ("GET", "/api/admin/history"),
            ("POST", "/api/admin/rooms/3/players/7/kick"),
            ("POST", "/api/admin/rooms/3/close"),
        ] {
            for token in [None, Some("open sesame"), Some("")] {
                let (status, body) = call(&app, method, uri, token, "").await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri} {token:?}");
                assert!(body.contains("admin token"), "{body}");
            }
        }
        assert!(fake.kicked.lock().unwrap().is_empty());
        assert!(fake.closed.lock().unwrap().is_empty());
        assert_eq!(metrics.admin_refused.get(), 12);
    }

    #[tokio::test]
    async fn rooms_actions_and_their_errors() {
        let (app, fake, _) = app();
        let (status, body) = call(&app, "GET", "/api/admin/rooms", Some("sesame"), "").await;
        assert_eq!(status, StatusCode::OK);
        let rooms: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(rooms[0]["code"], "ABCD");
        assert_eq!(rooms[0]["members"][0]["name"], "ann");

        let kick = "/api/admin/rooms/3/players/7/kick";
        let (status, _) = call(&app, "POST", kick, Some("sesame"), "").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(&app, "POST", kick, Some("sesame"), r#"{"message":"spam"}"#).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            fake.kicked.lock().unwrap().as_slice(),
            [
                (3, 7, "removed by an operator".to_owned()),
                (3, 7, "spam".to_owned())
            ]
        );
        let (status, body) = call(
            &app,
            "POST",
            "/api/admin/rooms/3/players/8/kick",
            Some("sesame"),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, _) = call(&app, "POST", kick, Some("sesame"), "{not json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(MAX_ACTION_MESSAGE + 1));
        let (status, _) = call(&app, "POST", kick, Some("sesame"), &long).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (status, _) = call(&app, "POST", "/api/admin/rooms/4/close", Some("sesame"), "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = call(&app, "POST", "/api/admin/rooms/3/close", Some("sesame"), "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fake.closed.lock().unwrap().len(), 1);
    }

    #[test]
    fn history_keeps_rates_of_the_last_minutes() {
        let metrics = Metrics::new();
        let history = History::default();
        history.sample(&metrics, 1_000);
        assert!(history.samples().is_empty(), "the first sample is a base");
        for second in 1..=(HISTORY_SECONDS as u64 + 10) {
            metrics.bytes_out.inc_by(1_000);
            metrics.ticks.inc_by(30);
            metrics.observe_tick(std::time::Duration::from_micros(200));
            history.sample(&metrics, 1_000 + second * 1_000);
        }
        let samples = history.samples();
        assert_eq!(samples.len(), HISTORY_SECONDS);
        let last = samples.last().unwrap();
        assert!((last.bytes_out_per_s - 1_000.0).abs() < 1e-9);
        assert!((last.ticks_per_s - 30.0).abs() < 1e-9);
        assert!(last.tick_mean_ms > 0.0);
        assert!(samples.windows(2).all(|w| w[0].unix_ms < w[1].unix_ms));
    }
}
