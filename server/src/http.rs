//! The HTTP side of the server's one port: the `/healthz`, `/metrics`,
//! `/rooms` and `/webtransport` endpoints ([`router`]) and serving one
//! accepted connection with them ([`serve_connection`]).
//!
//! The transport accepts each TCP connection and decides whether it is a
//! WebSocket upgrade or plain HTTP; plain HTTP comes here. A connection is
//! HTTP/1.1 only, may be kept alive, must send each request's headers within
//! a deadline (so a slowloris client is dropped), and is closed gracefully
//! when the server shuts down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use tickwire_shared::protocol::RoomInfo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::cluster::{ListedRoom, RoomRecord};
use crate::metrics::{self, Metrics};

/// How long a connection may take to finish its in-flight response once
/// shutdown is requested before it is cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Largest read buffer of one connection, bytes: request heads larger than
/// this are refused (431). The endpoints take no bodies, and a small cap
/// keeps an idle connection's memory small. hyper's minimum is 8 KiB.
const MAX_REQUEST_BUFFER: usize = 16 * 1024;

/// What the HTTP endpoints read; implemented by the lobby.
pub trait RoomDirectory: Send + Sync + 'static {
    /// Public rooms (locked ones too), by id.
    fn public_rooms(&self) -> Vec<RoomInfo>;

    /// The cluster's state for `/healthz`; `None` (the default) for a
    /// node running alone.
    fn cluster_health(&self) -> Option<ClusterHealth> {
        None
    }

    /// Every live node's public rooms (this node's included), each with
    /// its node; `None` (the default) for a node running alone, whose
    /// `/rooms` lists [`RoomDirectory::public_rooms`].
    fn cluster_rooms(&self) -> Option<Vec<ListedRoom>> {
        None
    }
}

/// `/healthz`'s `cluster` field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterHealth {
    /// This node's id.
    pub node: String,
    /// `"up"` while Redis answered the last heartbeat, else `"down"`
    /// (the node keeps serving its own rooms).
    pub redis: &'static str,
    /// Live nodes seen at the last heartbeat, this one included (1 while
    /// Redis is down: only itself is known).
    pub nodes: usize,
}

/// Everything the HTTP endpoints read, shared by every connection.
#[derive(Clone)]
pub struct HttpState {
    /// The server's metrics: `/metrics` renders them, `/healthz` reads the
    /// room and connection gauges, and every request is counted.
    pub metrics: Arc<Metrics>,
    /// Where `/rooms` gets the public rooms.
    pub rooms: Arc<dyn RoomDirectory>,
    /// When the server started, for `/healthz`'s uptime.
    pub started: Instant,
    /// The server's name, shown by `/healthz`.
    pub server_name: String,
    /// Cancelled when the server starts draining (the first shutdown
    /// signal; at once when there is no drain): `/healthz` then answers
    /// 503 `draining`, and keeps answering so until the server stops, so
    /// that readiness probes and load balancers stop sending new clients.
    pub draining: CancellationToken,
    /// What `/webtransport` tells pages; `None` when the server serves no
    /// WebTransport.
    pub webtransport: Option<WebTransportInfo>,
}

/// How a page opens a WebTransport session to this server: `GET
/// /webtransport`'s body, in the shape of the browser API
/// (`new WebTransport(url, { serverCertificateHashes })`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WebTransportInfo {
    /// The session URL, `https://IP:PORT/tickwire` (the endpoint's bound
    /// address; the loopback address when bound to all addresses).
    pub url: String,
    /// The hashes a page passes as `serverCertificateHashes`: the
    /// development certificate's; empty for a configured certificate,
    /// which browsers verify as usual.
    pub certificate_hashes: Vec<CertificateHash>,
    /// When the certificate stops being valid, in seconds since the Unix
    /// epoch (`None` when it cannot be read): a development certificate
    /// lives 13 days, then the server needs a restart.
    pub valid_until_unix_s: Option<i64>,
}

/// One entry of `serverCertificateHashes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateHash {
    /// The hash algorithm: always `sha-256`, the one browsers take.
    pub algorithm: &'static str,
    /// The SHA-256 of the certificate's DER, in standard base64 (a page
    /// decodes it into the `value` byte array).
    pub value: String,
}

impl CertificateHash {
    /// The entry for a SHA-256 `digest`.
    pub fn sha256(digest: &[u8; 32]) -> Self {
        use base64::Engine as _;
        Self {
            algorithm: "sha-256",
            value: base64::engine::general_purpose::STANDARD.encode(digest),
        }
    }
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("started", &self.started)
            .field("server_name", &self.server_name)
            .field("draining", &self.draining.is_cancelled())
            .field("webtransport", &self.webtransport)
            .finish_non_exhaustive()
    }
}

/// Why serving an HTTP connection ended in error.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The client did not finish a request's headers within the header
    /// timeout (a slowloris, or an idle keep-alive connection).
    #[error("client did not send its request headers in time")]
    HeaderTimeout(#[source] hyper::Error),
    /// Any other failure: a malformed request, an IO error, a reset.
    #[error("HTTP connection failed: {0}")]
    Connection(#[source] hyper::Error),
}

impl From<hyper::Error> for HttpError {
    fn from(error: hyper::Error) -> Self {
        if error.is_timeout() {
            Self::HeaderTimeout(error)
        } else {
            Self::Connection(error)
        }
    }
}

/// The endpoints:
///
/// - `GET /healthz`: 200 `{"status":"ok","server":..,"uptime_seconds":..,
///   "rooms":..,"connections":..}` (and `"cluster":{"node":..,"redis":
///   "up"|"down","nodes":..}` in a cluster), or 503 with `"status":"draining"` once
///   [`HttpState::draining`] is cancelled;
/// - `GET /metrics`: the metrics in OpenMetrics text;
/// - `GET /rooms`: the public rooms (locked ones too, marked) as a JSON
///   array with their game and metadata (never their invite codes); in a
///   cluster, every live node's, each with its `node` and `ws` URL
///   ([`ListedRoom`]);
/// - `GET /webtransport`: how a page opens a WebTransport session
///   ([`WebTransportInfo`]), or 404 `{"error":"webtransport disabled"}`;
/// - `GET /ws` without `Upgrade: websocket` (a browser opening the
///   endpoint's address, a probe): 426 Upgrade Required, saying so;
/// - anything else: 404, or 405 for a known path with another method.
///
/// Every request, whatever its answer, is counted in
/// `tickwire_http_requests_total`.
pub fn router(state: HttpState, admin: Router) -> Router {
    let metrics = Arc::clone(&state.metrics);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/rooms", get(rooms))
        .route(WEBTRANSPORT_PATH, get(webtransport))
        .route(crate::transport::ws::WS_PATH, get(upgrade_required))
        .with_state(state)
        .merge(admin)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(metrics, count_request))
}

/// Serves one accepted connection with `router` until the client closes it,
/// it fails, or `shutdown` is cancelled.
///
/// HTTP/1.1 only, keep-alive allowed. Each request's headers must arrive
/// within `header_timeout` of the server starting to wait for them, which
/// also bounds how long a kept-alive connection may sit idle. On `shutdown`
/// the connection finishes the response in flight (for at most a second)
/// and closes.
pub async fn serve_connection<S>(
    stream: S,
    router: Router,
    header_timeout: Duration,
    shutdown: CancellationToken,
) -> Result<(), HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_REQUEST_BUFFER)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result.map_err(HttpError::from),
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(SHUTDOWN_GRACE, connection).await {
                Ok(result) => result.map_err(HttpError::from),
                Err(_elapsed) => {
                    tracing::debug!("HTTP connection cut: shutdown grace elapsed");
                    Ok(())
                }
            }
        }
    }
}

/// Counts every request, whichever handler answers it.
async fn count_request(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    metrics.http_requests.inc();
    next.run(request).await
}

/// `/healthz`'s body.
#[derive(Debug, Serialize)]
struct Health<'a> {
    status: &'static str,
    server: &'a str,
    uptime_seconds: u64,
    rooms: i64,
    connections: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterHealth>,
}

/// `GET /healthz`.
async fn healthz(State(state): State<HttpState>) -> Response {
    let draining = state.draining.is_cancelled();
    let body = Health {
        status: if draining { "draining" } else { "ok" },
        server: &state.server_name,
        uptime_seconds: state.started.elapsed().as_secs(),
        rooms: state.metrics.rooms.get(),
        connections: state.metrics.connections.get(),
        cluster: state.rooms.cluster_health(),
    };
    let status = if draining {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

/// `GET /metrics`.
async fn metrics_text(State(state): State<HttpState>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /rooms`: in a cluster, every live node's public rooms, each with
/// `node` and `ws` (where it lives); alone, this node's.
async fn rooms(State(state): State<HttpState>) -> Response {
    if let Some(rooms) = state.rooms.cluster_rooms() {
        return Json(rooms).into_response();
    }
    local_rooms(&state).into_response()
}

/// This node's public rooms, as `/rooms` lists them without a cluster.
fn local_rooms(state: &HttpState) -> Json<Vec<RoomRecord>> {
    // The directory promises public rooms; a private one must never be
    // listed even if it slips through (`RoomRecord::public` drops it).
    let mut rooms: Vec<RoomRecord> = state
        .rooms
        .public_rooms()
        .into_iter()
        .filter_map(RoomRecord::public)
        .collect();
    rooms.sort_by_key(|room| room.id);
    Json(rooms)
}

/// Where pages learn how to open a WebTransport session.
pub const WEBTRANSPORT_PATH: &str = "/webtransport";

/// `/webtransport`'s answer when the server serves no WebTransport.
#[derive(Debug, Serialize)]
struct Disabled {
    error: &'static str,
}

/// `GET /webtransport`.
async fn webtransport(State(state): State<HttpState>) -> Response {
    match state.webtransport {
        Some(info) => Json(info).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(Disabled {
                error: "webtransport disabled",
            }),
        )
            .into_response(),
    }
}

/// Any other path.
async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}

/// The WebSocket endpoint asked for without an upgrade. RFC 9110 requires
/// the `Upgrade` header on a 426.
async fn upgrade_required() -> impl IntoResponse {
    (
        StatusCode::UPGRADE_REQUIRED,
        [
            (header::UPGRADE, "websocket"),
            (header::CONNECTION, "Upgrade"),
        ],
        "this is a WebSocket endpoint: connect with a WebSocket client\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeMap;

    use axum::body::{Body, to_bytes};
    use serde_json::Value;
    use tickwire_shared::game::GameOptions;
    use tickwire_shared::ids::{RoomCode, RoomId};
    use tickwire_shared::protocol::Visibility;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::time::timeout;
    use tower::ServiceExt;

    const CODE_INDEX: u64 = 123_456;

    struct FakeRooms;

    fn room(id: u64, name: &str, visibility: Visibility, code: u64) -> RoomInfo {
        RoomInfo {
            id: RoomId(id),
            code: Some(RoomCode::from_index(code)),
            name: name.to_owned(),
            game: "arena".to_owned(),
            visibility,
            players: 3,
            max_players: 16,
            spectators: 1,
            options: GameOptions(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
            metadata: BTreeMap::from([("map".to_owned(), "dunes".to_owned())]),
            locked: id == 9,
        }
    }

    impl RoomDirectory for FakeRooms {
        fn public_rooms(&self) -> Vec<RoomInfo> {
            vec![
                room(7, "seven", Visibility::Public, CODE_INDEX),
                room(9, "nine", Visibility::Public, CODE_INDEX + 1),
                room(8, "secret", Visibility::Private, CODE_INDEX + 2),
            ]
        }
    }

    fn state() -> HttpState {
        HttpState {
            metrics: Arc::new(Metrics::new()),
            rooms: Arc::new(FakeRooms),
            started: Instant::now(),
            server_name: "test-server".to_owned(),
            draining: CancellationToken::new(),
            webtransport: None,
        }
    }

    /// Sends one request through the router; returns status, content type
    /// and body.
    async fn call(router: &Router, method: &str, uri: &str) -> (StatusCode, String, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
        let body = String::from_utf8(body.to_vec()).expect("utf-8");
        (status, content_type, body)
    }

    #[tokio::test]
    async fn healthz_reports_ok_then_draining() {
        let state = state();
        state.metrics.rooms.set(2);
        state.metrics.connections.set(5);
        let router = router(state.clone(), Router::new());

        let (status, content_type, body) = call(&router, "GET", "/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        let json: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(json["status"], "ok");
        assert_eq!(json["server"], "test-server");
        assert!(json["uptime_seconds"].is_u64(), "{body}");
        assert_eq!(json["rooms"], 2);
        assert_eq!(json["connections"], 5);

        state.draining.cancel();
        let (status, _, body) = call(&router, "GET", "/healthz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let json: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(json["status"], "draining");
    }

    #[tokio::test]
    async fn metrics_are_served_as_openmetrics_text() {
        let state = state();
        state.metrics.ticks.inc_by(42);
        let router = router(state, Router::new());
        let (status, content_type, body) = call(&router, "GET", "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, metrics::CONTENT_TYPE);
        assert!(body.contains("tickwire_ticks_total 42"), "{body}");
        assert!(body.contains("tickwire_http_requests_total 1"), "{body}");
        assert!(body.ends_with("# EOF\n"));
    }

    #[tokio::test]
    async fn rooms_lists_public_rooms_without_codes() {
        let router = router(state(), Router::new());
        let (status, content_type, body) = call(&router, "GET", "/rooms").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        let json: Value = serde_json::from_str(&body).expect("json");
        let rooms = json.as_array().expect("array");
        assert_eq!(rooms.len(), 2, "the private room is not listed: {body}");
        let first = &rooms[0];
        assert_eq!(first["id"], 7);
        assert_eq!(first["name"], "seven");
        assert_eq!(first["game"], "arena");
        assert_eq!(first["players"], 3);
        assert_eq!(first["max_players"], 16);
        assert_eq!(first["spectators"], 1);
        assert_eq!(first["options"], serde_json::json!({"k": "v"}));
        assert_eq!(first["metadata"], serde_json::json!({"map": "dunes"}));
        assert_eq!(first["locked"], false);
        assert_eq!(rooms[1]["id"], 9);
        assert_eq!(rooms[1]["locked"], true, "locked rooms show, marked");
        for room in rooms {
            let fields = room.as_object().expect("object");
            assert!(!fields.contains_key("code") && !fields.contains_key("visibility"));
        }
        for index in CODE_INDEX..CODE_INDEX + 3 {
            let code = RoomCode::from_index(index);
            assert!(!body.contains(code.as_str()), "{code} leaked: {body}");
        }
        assert!(!body.contains("secret"));
    }

    #[tokio::test]
    async fn webtransport_says_how_to_connect_or_that_it_is_off() {
        let (status, content_type, body) =
            call(&router(state(), Router::new()), "GET", "/webtransport").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type, "application/json");
        assert_eq!(body, r#"{"error":"webtransport disabled"}"#);

        let mut on = state();
        on.webtransport = Some(WebTransportInfo {
            url: "https://127.0.0.1:7443/tickwire".into(),
            certificate_hashes: vec![CertificateHash::sha256(&[0xAB; 32])],
            valid_until_unix_s: Some(1_700_000_000),
        });
        let (status, content_type, body) =
            call(&router(on, Router::new()), "GET", "/webtransport").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        let json: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "url": "https://127.0.0.1:7443/tickwire",
                "certificate_hashes": [{
                    "algorithm": "sha-256",
                    // 32 bytes of 0xAB in standard base64.
                    "value": "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=",
                }],
                "valid_until_unix_s": 1_700_000_000,
            })
        );
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_are_refused_and_counted() {
        let state = state();
        let router = router(state.clone(), Router::new());
        let (status, _, body) = call(&router, "GET", "/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, "not found\n");
        let (status, _, _) = call(&router, "POST", "/healthz").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        let (status, _, _) = call(&router, "GET", "/healthz").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(state.metrics.http_requests.get(), 3);
    }

    /// Accepts one loopback connection and serves it; returns the client
    /// side and the server task.
    async fn one_connection(
        header_timeout: Duration,
        shutdown: CancellationToken,
    ) -> (TcpStream, tokio::task::JoinHandle<Result<(), HttpError>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let router = router(state(), Router::new());
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            serve_connection(stream, router, header_timeout, shutdown).await
        });
        let client = TcpStream::connect(address).await.expect("connect");
        (client, server)
    }

    #[tokio::test]
    async fn serves_a_real_connection() {
        let (mut client, server) =
            one_connection(Duration::from_secs(5), CancellationToken::new()).await;
        client
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut response = Vec::new();
        timeout(Duration::from_secs(5), client.read_to_end(&mut response))
            .await
            .expect("in time")
            .expect("read");
        let response = String::from_utf8_lossy(&response);
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.contains("\"status\":\"ok\""), "{response}");
        let result = timeout(Duration::from_secs(5), server)
            .await
            .expect("in time");
        assert!(result.expect("joined").is_ok());
    }

    #[tokio::test]
    async fn a_slowloris_is_dropped_after_the_header_timeout() {
        let header_timeout = Duration::from_millis(300);
        let (mut client, server) = one_connection(header_timeout, CancellationToken::new()).await;
        let started = Instant::now();
        client
            .write_all(b"GET /healthz HTTP/1.1\r\nHo")
            .await
            .expect("write");
        let mut rest = Vec::new();
        // The server closes (or resets) the connection; either ends the read.
        let read = timeout(Duration::from_secs(3), client.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "still open after 3 s");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(250),
            "dropped too early: {elapsed:?}"
        );
        let result = timeout(Duration::from_secs(3), server)
            .await
            .expect("in time");
        assert!(
            matches!(result.expect("joined"), Err(HttpError::HeaderTimeout(_))),
            "a header timeout"
        );
    }

    #[tokio::test]
    async fn shutdown_closes_an_idle_kept_alive_connection() {
        let shutdown = CancellationToken::new();
        let (mut client, server) = one_connection(Duration::from_secs(30), shutdown.clone()).await;
        client
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .expect("write");
        let mut buffer = [0u8; 1024];
        let n = timeout(Duration::from_secs(5), client.read(&mut buffer))
            .await
            .expect("in time")
            .expect("read");
        assert!(buffer[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
        shutdown.cancel();
        let result = timeout(Duration::from_secs(3), server)
            .await
            .expect("closed promptly");
        assert!(result.expect("joined").is_ok());
    }
}
