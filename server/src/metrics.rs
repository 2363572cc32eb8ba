//! The server's Prometheus metrics: every counter, gauge and histogram the
//! server keeps, registered in a [`Registry`] owned by one [`Metrics`] value.
//!
//! There is no global registry: each server builds its own [`Metrics`] (and
//! shares it in an `Arc`), so several servers in one process — as in the
//! tests — never mix their numbers. [`Metrics::render`] produces the text
//! served at `GET /metrics`.

use std::time::Duration;

use tickwire_shared::protocol::CloseReason;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::reason::{InputDrop, Label, Rejection};

/// Content type of [`Metrics::render`]'s output (OpenMetrics text).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prefix of every metric name.
const PREFIX: &str = "tickwire";

/// Smallest tick-duration bucket, seconds (10 µs).
const TICK_BUCKET_START: f64 = 10e-6;

/// Growth from one tick-duration bucket to the next: 1.25 keeps a
/// percentile read off the buckets within about 12 % of the true value.
const TICK_BUCKET_FACTOR: f64 = 1.25;

/// Tick-duration buckets: 10 µs growing by 1.25 up to about 180 ms.
const TICK_BUCKETS: u16 = 45;

/// Smallest round-trip bucket, seconds (100 µs).
const RTT_BUCKET_START: f64 = 100e-6;

/// Growth from one round-trip bucket to the next.
const RTT_BUCKET_FACTOR: f64 = 1.5;

/// Round-trip buckets: 100 µs growing by 1.5 up to about 3.5 s.
const RTT_BUCKETS: u16 = 27;

/// A `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// A `kind` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// One server's metrics and the registry that exposes them.
///
/// Counters and gauges are cheap to update from any task (atomics); the
/// labelled families are updated through the methods, which take the label
/// value.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `tickwire_connections`: open WebSocket sessions.
    pub connections: Gauge,
    /// `tickwire_http_requests_total`: HTTP requests served.
    pub http_requests: Counter,
    /// `tickwire_admin_refused_total`: operator API requests refused for
    /// want of the admin token.
    pub admin_refused: Counter,
    /// Tick durations summed, microseconds (not exported: the operator
    /// history's mean tick duration reads it).
    tick_micros: std::sync::atomic::AtomicU64,
    /// `tickwire_connections_rejected_total{reason}`.
    connections_rejected: Family<ReasonLabel, Counter>,
    /// `tickwire_sessions_closed_total{reason}`.
    sessions_closed: Family<ReasonLabel, Counter>,
    /// `tickwire_auth_failures_total{reason}`.
    auth_failures: Family<ReasonLabel, Counter>,
    /// `tickwire_rooms`: rooms open.
    pub rooms: Gauge,
    /// `tickwire_draining`: 1 while the server drains before it stops
    /// (new rooms and joins refused), else 0.
    pub draining: Gauge,
    /// `tickwire_players`: seated players in all rooms.
    pub players: Gauge,
    /// `tickwire_cluster_redis_up`: 1 while the cluster's Redis answers
    /// the heartbeat, else 0 (always 0 without a cluster).
    pub cluster_redis_up: Gauge,
    /// `tickwire_cluster_nodes`: live nodes in the cluster, this one
    /// included, as of the last heartbeat (0 without a cluster).
    pub cluster_nodes: Gauge,
    /// `tickwire_cluster_redis_errors_total`: heartbeats whose Redis
    /// commands failed.
    pub cluster_redis_errors: Counter,
    /// `tickwire_spectators`: spectators in all rooms.
    pub spectators: Gauge,
    /// `tickwire_rooms_created_total`.
    pub rooms_created: Counter,
    /// `tickwire_rooms_disposed_total`.
    pub rooms_disposed: Counter,
    /// `tickwire_rooms_unjoined_total`: rooms disposed because nobody
    /// joined them (also counted in `rooms_disposed`).
    pub rooms_unjoined: Counter,
    /// `tickwire_ticks_total`: ticks stepped by all rooms.
    pub ticks: Counter,
    /// `tickwire_late_ticks_total`: ticks that started more than one tick
    /// period after they were due.
    pub late_ticks: Counter,
    /// `tickwire_tick_duration_seconds`.
    tick_duration: Histogram,
    /// `tickwire_rtt_seconds`: clients' round-trip times, from the pongs
    /// answering the server's pings (their `held_us` left out).
    rtt: Histogram,
    /// `tickwire_bytes_received_total`: WebSocket payload bytes received.
    pub bytes_in: Counter,
    /// `tickwire_bytes_sent_total`: WebSocket payload bytes sent.
    pub bytes_out: Counter,
    /// `tickwire_messages_received_total`.
    pub messages_in: Counter,
    /// `tickwire_messages_sent_total`.
    pub messages_out: Counter,
    /// `tickwire_updates_sent_total`: world updates written to clients.
    pub updates_sent: Counter,
    /// `tickwire_updates_direct_total`: of those, the ones the room wrote
    /// to the socket itself rather than through the client's session.
    pub updates_direct: Counter,
    /// `tickwire_full_snapshots_total`: updates sent as full snapshots
    /// rather than deltas.
    pub full_snapshots: Counter,
    /// `tickwire_updates_superseded_total`: a newer update replaced one not
    /// yet written to a slow client.
    pub updates_superseded: Counter,
    /// `tickwire_session_moves_total`: sessions moved to the shard of the
    /// room they joined.
    pub session_moves: Counter,
    /// `tickwire_sessions_attached_total`: sessions whose room took over
    /// reading their connection (on the room's shard, at each tick).
    pub sessions_attached: Counter,
    /// `tickwire_inputs_dropped_total{reason}`.
    inputs_dropped: Family<ReasonLabel, Counter>,
    /// `tickwire_events_received_total`: events members sent their rooms'
    /// games (refused ones not counted).
    pub events_received: Counter,
    /// `tickwire_events_refused_total{reason}`: members' events refused
    /// before reaching the game.
    events_refused: Family<ReasonLabel, Counter>,
    /// `tickwire_events_emitted_total`: events games sent, one per
    /// recipient.
    pub events_emitted: Counter,
    /// `tickwire_emits_refused_total{reason}`: what games asked of their
    /// rooms and were refused (over the byte budget, too large, ...).
    emits_refused: Family<ReasonLabel, Counter>,
    /// `tickwire_event_answers_total{outcome}`: what became of events
    /// games emitted expecting an answer.
    event_answers: Family<ReasonLabel, Counter>,
    /// `tickwire_members_left_total{reason}`: members gone from rooms, by
    /// cause (left, disconnected, kicked, timed_out, room_closed).
    members_left: Family<ReasonLabel, Counter>,
    /// `tickwire_resumes_total{reason}`: greetings with a resume token,
    /// by outcome (`resumed`: the seat came back; `not_resumed`: unknown,
    /// used, expired or another account's token, welcomed afresh).
    resumes: Family<ReasonLabel, Counter>,
    /// `tickwire_cluster_redirects_total{reason}`: requests sent to another
    /// node of the cluster with a seat reservation, by request
    /// (`join`, `join_by_code`, `quick_join`, `create`).
    cluster_redirects: Family<ReasonLabel, Counter>,
    /// `tickwire_cluster_claims_total{reason}`: seat reservations
    /// presented here, by outcome (`ok`, or why refused: `expired`,
    /// `bad_signature`, `other_node`, `other_player`, `used`, ...).
    cluster_claims: Family<ReasonLabel, Counter>,
    /// `tickwire_errors_total{kind}`.
    errors: Family<KindLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Builds every metric at zero in a fresh registry of its own.
    pub fn new() -> Self {
        // Counters get their `_total` suffix from the encoder.
        fn counter(registry: &mut Registry, name: &str, help: &str) -> Counter {
            let metric = Counter::default();
            registry.register(name, help, metric.clone());
            metric
        }
        fn gauge(registry: &mut Registry, name: &str, help: &str) -> Gauge {
            let metric = Gauge::default();
            registry.register(name, help, metric.clone());
            metric
        }
        fn family<S>(registry: &mut Registry, name: &str, help: &str) -> Family<S, Counter>
        where
            S: Clone
                + std::fmt::Debug
                + std::hash::Hash
                + Eq
                + EncodeLabelSet
                + Send
                + Sync
                + 'static,
        {
            let metric = Family::<S, Counter>::default();
            registry.register(name, help, metric.clone());
            metric
        }
        let mut registry = Registry::with_prefix(PREFIX);
        let r = &mut registry;

        let connections = gauge(r, "connections", "Open WebSocket sessions");
        let http_requests = counter(r, "http_requests", "HTTP requests served");
        let admin_refused = counter(
            r,
            "admin_refused",
            "Operator API requests refused for want of the admin token",
        );
        let connections_rejected = family(
            r,
            "connections_rejected",
            "Connections refused or dropped before a session started, by reason",
        );
        let sessions_closed = family(r, "sessions_closed", "Sessions closed, by reason");
        let auth_failures = family(
            r,
            "auth_failures",
            "Handshakes refused by authentication, by reason",
        );
        let rooms = gauge(r, "rooms", "Rooms open");
        let draining = gauge(
            r,
            "draining",
            "1 while the server drains before it stops (new rooms and joins refused)",
        );
        let players = gauge(r, "players", "Seated players in all rooms");
        let cluster_redis_up = gauge(
            r,
            "cluster_redis_up",
            "1 while the cluster's Redis answers the heartbeat, else 0",
        );
        let cluster_nodes = gauge(r, "cluster_nodes", "Live nodes in the cluster");
        let cluster_redis_errors = counter(
            r,
            "cluster_redis_errors",
            "Cluster heartbeats whose Redis commands failed",
        );
        let spectators = gauge(r, "spectators", "Spectators in all rooms");
        let rooms_created = counter(r, "rooms_created", "Rooms created");
        let rooms_disposed = counter(r, "rooms_disposed", "Rooms disposed");
        let rooms_unjoined = counter(
            r,
            "rooms_unjoined",
            "Rooms disposed because nobody joined them",
        );
        let ticks = counter(r, "ticks", "Ticks stepped by all rooms");
        let late_ticks = counter(
            r,
            "late_ticks",
            "Ticks that started more than one tick period after they were due",
        );
        let tick_duration = Histogram::new(exponential_buckets(
            TICK_BUCKET_START,
            TICK_BUCKET_FACTOR,
            TICK_BUCKETS,
        ));
        r.register_with_unit(
            "tick_duration",
            "Time to step a room and encode its updates",
            Unit::Seconds,
            tick_duration.clone(),
        );
        let rtt = Histogram::new(exponential_buckets(
            RTT_BUCKET_START,
            RTT_BUCKET_FACTOR,
            RTT_BUCKETS,
        ));
        r.register_with_unit(
            "rtt",
            "Clients' round-trip times, from their answers to the server's pings",
            Unit::Seconds,
            rtt.clone(),
        );
        let bytes_in = counter(r, "bytes_received", "WebSocket payload bytes received");
        let bytes_out = counter(r, "bytes_sent", "WebSocket payload bytes sent");
        let messages_in = counter(r, "messages_received", "WebSocket messages received");
        let messages_out = counter(r, "messages_sent", "WebSocket messages sent");
        let updates_sent = counter(r, "updates_sent", "World updates written to clients");
        let updates_direct = counter(
            r,
            "updates_direct",
            "Updates the room wrote to the client's socket itself",
        );
        let full_snapshots = counter(r, "full_snapshots", "Updates sent as full snapshots");
        let updates_superseded = counter(
            r,
            "updates_superseded",
            "Updates replaced by a newer one before a slow client took them",
        );
        let session_moves = counter(
            r,
            "session_moves",
            "Sessions moved to the shard of the room they joined",
        );
        let sessions_attached = counter(
            r,
            "sessions_attached",
            "Sessions whose room reads their connection at each tick",
        );
        let inputs_dropped = family(r, "inputs_dropped", "Player inputs dropped, by reason");
        let events_received = counter(r, "events_received", "Events members sent their games");
        let events_refused = family(
            r,
            "events_refused",
            "Members' events refused before reaching the game, by reason",
        );
        let events_emitted = counter(r, "events_emitted", "Events games sent, per recipient");
        let emits_refused = family(
            r,
            "emits_refused",
            "What games asked of their rooms and were refused, by reason",
        );
        let event_answers = family(
            r,
            "event_answers",
            "Answers to events games emitted expecting one, by outcome",
        );
        let members_left = family(r, "members_left", "Members gone from rooms, by cause");
        let resumes = family(
            r,
            "resumes",
            "Greetings with a resume token, by outcome (resumed, not_resumed)",
        );
        let cluster_redirects = family(
            r,
            "cluster_redirects",
            "Requests redirected to another node with a seat reservation, by request",
        );
        let cluster_claims = family(
            r,
            "cluster_claims",
            "Seat reservations presented here, by outcome",
        );
        let errors = family(r, "errors", "Errors, by kind");

        Self {
            registry,
            connections,
            http_requests,
            admin_refused,
            tick_micros: std::sync::atomic::AtomicU64::new(0),
            connections_rejected,
            sessions_closed,
            auth_failures,
            rooms,
            draining,
            players,
            cluster_redis_up,
            cluster_nodes,
            cluster_redis_errors,
            spectators,
            rooms_created,
            rooms_disposed,
            rooms_unjoined,
            ticks,
            late_ticks,
            tick_duration,
            rtt,
            bytes_in,
            bytes_out,
            messages_in,
            messages_out,
            updates_sent,
            updates_direct,
            full_snapshots,
            updates_superseded,
            session_moves,
            sessions_attached,
            inputs_dropped,
            events_received,
            events_refused,
            events_emitted,
            emits_refused,
            event_answers,
            members_left,
            resumes,
            cluster_redirects,
            cluster_claims,
            errors,
        }
    }

    /// Counts a connection refused or dropped before its session started.
    pub fn connection_rejected(&self, reason: Rejection) {
        self.connections_rejected
            .get_or_create(&ReasonLabel {
                reason: reason.label(),
            })
            .inc();
    }

    /// Counts a handshake refused by authentication, by why (and as a
    /// rejected connection, `auth_failed`).
    pub fn auth_failed(&self, error: &crate::auth::AuthError) {
        self.auth_failures
            .get_or_create(&ReasonLabel {
                reason: error.label(),
            })
            .inc();
        self.connection_rejected(Rejection::AuthFailed);
    }

    /// Counts a session that ended, by why it ended.
    pub fn session_closed(&self, reason: CloseReason) {
        self.sessions_closed
            .get_or_create(&ReasonLabel {
                reason: reason.label(),
            })
            .inc();
    }

    /// Counts a dropped player input.
    pub fn input_dropped(&self, reason: InputDrop) {
        self.inputs_dropped
            .get_or_create(&ReasonLabel {
                reason: reason.label(),
            })
            .inc();
    }

    /// Counts a member's event refused before it reached the game (also
    /// an error of that kind).
    pub fn event_refused(&self, reason: &impl Label) {
        self.events_refused
            .get_or_create(&ReasonLabel {
                reason: reason.label(),
            })
            .inc();
        self.error(reason);
    }

    /// Counts something a game asked of its room and was refused.
    pub fn emit_refused(&self, reason: &'static str) {
        self.emits_refused
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Counts what became of an event a game emitted expecting an answer
    /// (`answered`, `error`, `timed_out`, `gone`).
    pub fn event_answer(&self, outcome: &'static str) {
        self.event_answers
            .get_or_create(&ReasonLabel { reason: outcome })
            .inc();
    }

    /// Counts a request redirected to another node, by request.
    pub fn cluster_redirect(&self, request: &'static str) {
        self.cluster_redirects
            .get_or_create(&ReasonLabel { reason: request })
            .inc();
    }

    /// Counts a seat reservation presented here, by outcome.
    pub fn cluster_claim(&self, outcome: &'static str) {
        self.cluster_claims
            .get_or_create(&ReasonLabel { reason: outcome })
            .inc();
    }

    /// Counts a greeting with a resume token, by outcome (`resumed`,
    /// `not_resumed`).
    pub fn resume(&self, outcome: &'static str) {
        self.resumes
            .get_or_create(&ReasonLabel { reason: outcome })
            .inc();
    }

    /// Counts a member gone from its room, by cause.
    pub fn member_left(&self, cause: &'static str) {
        self.members_left
            .get_or_create(&ReasonLabel { reason: cause })
            .inc();
    }

    /// Counts an error of some kind: a refused request, a session closed
    /// for cause, a fault of the server's machinery.
    pub fn error(&self, kind: &impl Label) {
        self.errors
            .get_or_create(&KindLabel { kind: kind.label() })
            .inc();
    }

    /// Records how long one tick took.
    pub fn observe_tick(&self, d: Duration) {
        self.tick_duration.observe(d.as_secs_f64());
        self.tick_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Every tick's duration summed, microseconds.
    pub fn tick_micros_total(&self) -> u64 {
        self.tick_micros.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records a client's round-trip time.
    pub fn observe_rtt(&self, d: Duration) {
        self.rtt.observe(d.as_secs_f64());
    }

    /// Every metric in the OpenMetrics text format, ending in `# EOF`; serve
    /// it with [`CONTENT_TYPE`].
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &self.registry) {
            // Writing to a String cannot fail and every metric here has a
            // text encoding, so this is a bug; serve a valid empty
            // exposition rather than a truncated one.
            tracing::error!(%error, "encoding metrics failed");
            return "# EOF\n".to_owned();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Refusal;

    const NAMES: [&str; 28] = [
        "tickwire_draining",
        "tickwire_session_moves_total",
        "tickwire_sessions_attached_total",
        "tickwire_connections",
        "tickwire_http_requests_total",
        "tickwire_connections_rejected_total",
        "tickwire_sessions_closed_total",
        "tickwire_rooms",
        "tickwire_players",
        "tickwire_spectators",
        "tickwire_rooms_created_total",
        "tickwire_rooms_disposed_total",
        "tickwire_rooms_unjoined_total",
        "tickwire_ticks_total",
        "tickwire_late_ticks_total",
        "tickwire_tick_duration_seconds",
        "tickwire_rtt_seconds",
        "tickwire_bytes_received_total",
        "tickwire_bytes_sent_total",
        "tickwire_messages_received_total",
        "tickwire_messages_sent_total",
        "tickwire_updates_sent_total",
        "tickwire_updates_direct_total",
        "tickwire_full_snapshots_total",
        "tickwire_updates_superseded_total",
        "tickwire_inputs_dropped_total",
        "tickwire_errors_total",
        "tickwire_tick_duration_seconds_bucket",
    ];

    /// The sample line for `series` (name and labels), without the value.
    fn value_of(text: &str, series: &str) -> Option<String> {
        text.lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')
                .map(str::to_owned)
        })
    }

    #[test]
    fn every_metric_is_rendered_and_the_text_ends_in_eof() {
        let metrics = Metrics::new();
        metrics.connection_rejected(Rejection::ServerFull);
        metrics.session_closed(CloseReason::Normal);
        metrics.input_dropped(InputDrop::Stale);
        metrics.error(&CloseReason::MalformedFrame);
        let text = metrics.render();
        for name in NAMES {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn counters_and_gauges_show_their_values() {
        let metrics = Metrics::new();
        metrics.http_requests.inc();
        metrics.http_requests.inc();
        metrics.bytes_out.inc_by(1500);
        metrics.connections.set(3);
        metrics.rooms.inc();
        let text = metrics.render();
        assert_eq!(
            value_of(&text, "tickwire_http_requests_total").as_deref(),
            Some("2")
        );
        assert_eq!(
            value_of(&text, "tickwire_bytes_sent_total").as_deref(),
            Some("1500")
        );
        assert_eq!(
            value_of(&text, "tickwire_connections").as_deref(),
            Some("3")
        );
        assert_eq!(value_of(&text, "tickwire_rooms").as_deref(), Some("1"));
        assert_eq!(
            value_of(&text, "tickwire_ticks_total").as_deref(),
            Some("0")
        );
    }

    #[test]
    fn families_show_their_labels() {
        let metrics = Metrics::new();
        metrics.connection_rejected(Rejection::IpLimit);
        metrics.connection_rejected(Rejection::IpLimit);
        metrics.session_closed(CloseReason::IdleTimeout);
        metrics.input_dropped(InputDrop::QueueFull);
        metrics.error(&Refusal::RoomClosed);
        let text = metrics.render();
        let cases = [
            (
                "tickwire_connections_rejected_total{reason=\"ip_limit\"}",
                "2",
            ),
            (
                "tickwire_sessions_closed_total{reason=\"idle_timeout\"}",
                "1",
            ),
            ("tickwire_inputs_dropped_total{reason=\"queue_full\"}", "1"),
            ("tickwire_errors_total{kind=\"room_not_found\"}", "1"),
        ];
        for (series, value) in cases {
            assert_eq!(
                value_of(&text, series).as_deref(),
                Some(value),
                "{series} in:\n{text}"
            );
        }
    }

    #[test]
    fn tick_durations_land_in_their_buckets() {
        let metrics = Metrics::new();
        metrics.observe_tick(Duration::from_micros(5));
        metrics.observe_tick(Duration::from_millis(2));
        metrics.observe_tick(Duration::from_secs(1));
        let text = metrics.render();
        assert_eq!(
            value_of(&text, "tickwire_tick_duration_seconds_count").as_deref(),
            Some("3")
        );
        assert_eq!(
            value_of(
                &text,
                "tickwire_tick_duration_seconds_bucket{le=\"0.00001\"}"
            )
            .as_deref(),
            Some("1"),
            "{text}"
        );
        assert_eq!(
            value_of(&text, "tickwire_tick_duration_seconds_bucket{le=\"+Inf\"}").as_deref(),
            Some("3")
        );
        let buckets = text
            .matches("tickwire_tick_duration_seconds_bucket{")
            .count();
        assert_eq!(buckets, usize::from(TICK_BUCKETS) + 1, "45 bounds and +Inf");
    }

    #[test]
    fn round_trips_land_in_their_buckets() {
        let metrics = Metrics::new();
        metrics.observe_rtt(Duration::from_micros(400));
        metrics.observe_rtt(Duration::from_millis(80));
        let text = metrics.render();
        assert_eq!(
            value_of(&text, "tickwire_rtt_seconds_count").as_deref(),
            Some("2")
        );
        // 100 µs x 1.5^4 = 506 µs is the first bound above 400 µs.
        assert_eq!(
            value_of(&text, "tickwire_rtt_seconds_bucket{le=\"0.00050625\"}").as_deref(),
            Some("1"),
            "{text}"
        );
        assert_eq!(
            value_of(&text, "tickwire_rtt_seconds_bucket{le=\"+Inf\"}").as_deref(),
            Some("2")
        );
    }

    #[test]
    fn servers_do_not_share_metrics() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.ticks.inc();
        assert_eq!(
            value_of(&b.render(), "tickwire_ticks_total").as_deref(),
            Some("0")
        );
    }
}
