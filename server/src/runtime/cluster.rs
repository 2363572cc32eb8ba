//! The cluster's Redis shell (shell): one task per node that, on every
//! heartbeat, writes this node's record and public rooms with an expiry
//! and reads every live node's (the keys and the merge are the pure
//! [`crate::cluster`]'s), and deletes its keys on a clean stop.
//!
//! One beat is two round trips: a pipeline of six commands (`SET` the
//! node record, its public rooms and its invite codes, each `PX expiry`;
//! `ZADD` the index, `ZREMRANGEBYSCORE` its long-dead entries, `ZRANGE`
//! it), then one `MGET` of every indexed node's three keys. Without a
//! configured secret the first pipeline also carries `SET tickwire:secret
//! <the node's, or one drawn> NX` and `GET tickwire:secret`: nine
//! commands a beat with the `MGET`, still two round trips.
//! Listings, joins, quick-joins and placements read the last beat's
//! result (never Redis), so a lobby request costs no Redis command and
//! never waits on Redis.
//!
//! The connection is redis' `ConnectionManager`, created lazily (a node
//! starts while Redis is down) and reconnecting by itself when Redis
//! restarts. While Redis does not answer, the node serves its own rooms,
//! lists only them, and says `redis: down` in `/healthz` and
//! `tickwire_cluster_redis_up`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::{Redirect, RoomFilter, RoomInfo};
use tracing::{error, info, warn};

use crate::cluster::placement::{self, NodeLoad, Pending, QuickJoinPick, QuickJoinQuery};
use crate::cluster::reservation::{Ledger, Reservation, ReservationError, Seat, Signer};
use crate::cluster::{
    self, DirectoryRead, ListedRoom, NodeRecord, RoomRecord, codes_key, expires_at, node_key,
    nodes_key, rooms_key, secret_key, trim_below,
};
use crate::config::ClusterConfig;
use crate::error::ServerError;
use crate::http::ClusterHealth;

use super::Shared;

/// Most nodes one read looks at: bounds the `MGET` whatever the index
/// holds (a cluster is a handful of nodes; a damaged index is not).
const MAX_NODES: usize = 1_024;

/// Longest wait for the keys' deletion on a clean stop: well inside the
/// shutdown grace (`timeouts.shutdown_ms`); the keys expire anyway.
const LEAVE_WAIT: Duration = Duration::from_secs(1);

/// Reconnection attempts per failed command: one, so a beat never waits
/// long on a Redis that is down; the next beat tries again.
const RECONNECT_TRIES: usize = 1;

/// This node's membership: who it is, and what the last beat saw.
#[derive(Debug)]
pub(crate) struct Cluster {
    /// This node's id in the directory.
    pub(crate) node_id: String,
    /// The tag its room ids carry.
    pub(crate) tag: u32,
    /// The WebSocket URL it advertises.
    pub(crate) ws: String,
    /// The QUIC address it advertises, when it serves QUIC.
    pub(crate) quic: Option<String>,
    config: ClusterConfig,
    client: redis::Client,
    view: Mutex<View>,
    /// Signs and checks seat reservations, once the secret is known (at
    /// once when configured, else from Redis at the first beat).
    signer: Mutex<Option<Signer>>,
    /// Reservations claimed here (each once).
    ledger: Mutex<Ledger>,
}

/// The last beat's outcome, and the seats sent since.
#[derive(Debug, Default)]
struct View {
    redis_up: bool,
    read: DirectoryRead,
    pending: Pending,
}

/// Where a join by id or code goes.
#[derive(Debug)]
pub(crate) enum JoinRoute {
    /// Here (or nowhere: the lobby answers).
    Local,
    /// To this node, this room.
    Remote(NodeRecord, RoomId),
    /// The id names a node that is not (or no longer) in the cluster.
    Gone,
}

/// Where a quick-join goes.
#[derive(Debug)]
pub(crate) enum QuickRoute {
    /// This node's room.
    Local(RoomId),
    /// A room on another node.
    Remote(NodeRecord, RoomId),
    /// No room fits: create one (see [`Cluster::place_room`]).
    Create,
}

impl Cluster {
    /// The membership of node `node_id` advertising `ws` (and `quic`);
    /// connects to nothing yet.
    pub(crate) fn new(
        config: ClusterConfig,
        node_id: String,
        ws: String,
        quic: Option<String>,
    ) -> Result<Self, ServerError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| ServerError::ClusterUrl(e.to_string()))?;
        let signer = config
            .secret
            .as_ref()
            .map(|secret| Signer::new(secret.expose().as_bytes(), config.reservation_ms));
        Ok(Self {
            tag: placement::node_tag(&node_id),
            node_id,
            ws,
            quic,
            config,
            client,
            view: Mutex::new(View::default()),
            signer: Mutex::new(signer),
            ledger: Mutex::new(Ledger::default()),
        })
    }

    /// Other live nodes' public rooms passing `filter`, for `ListRooms`.
    pub(crate) fn remote_rooms(&self, filter: &RoomFilter) -> Vec<RoomInfo> {
        cluster::remote_rooms(&self.node_id, &self.view().read, filter)
    }

    /// Where a join by id goes: room ids carry their node's tag.
    pub(crate) fn route_id(&self, id: RoomId) -> JoinRoute {
        if id.node_tag() == self.tag || id.node_tag() == 0 {
            return JoinRoute::Local;
        }
        let view = self.view();
        match placement::holder_of(self.tag, id, &view.read) {
            Some(node) if !node.draining => JoinRoute::Remote(node.clone(), id),
            _ => JoinRoute::Gone,
        }
    }

    /// Where a join by an invite code this node does not know goes.
    pub(crate) fn route_code(&self, code: &str) -> JoinRoute {
        let view = self.view();
        match placement::holder_of_code(&self.node_id, code, &view.read) {
            Some((node, room)) if !node.draining => JoinRoute::Remote(node.clone(), room),
            _ => JoinRoute::Local,
        }
    }

    /// The room a quick-join takes across the cluster; `local` is this
    /// node's best candidate and its players.
    pub(crate) fn route_quick_join(
        &self,
        local: Option<(RoomId, u16)>,
        query: QuickJoinQuery<'_>,
    ) -> QuickRoute {
        let view = self.view();
        match placement::pick_quick_join(&self.node_id, local, query, &view.read, &view.pending) {
            QuickJoinPick::Local(room) => QuickRoute::Local(room),
            QuickJoinPick::Remote { node, room } => QuickRoute::Remote(node.clone(), room),
            QuickJoinPick::Create => QuickRoute::Create,
        }
    }

    /// The node a new room goes to: `None` here (or when no node can take
    /// it: this node's lobby then answers), else the other node's record.
    pub(crate) fn place_room(&self, own: &NodeLoad) -> Option<NodeRecord> {
        let view = self.view();
        let chosen = placement::place_room(own, &view.read, &view.pending)?;
        if chosen == self.node_id {
            return None;
        }
        view.read
            .nodes
            .iter()
            .find(|e| e.node.id == chosen)
            .map(|e| e.node.clone())
    }

    /// A redirect of request `request_id` to `node` for `seat`, for the
    /// account `sub` if signed in; counts the seat as sent there.
    pub(crate) fn redirect(
        &self,
        request_id: u32,
        node: &NodeRecord,
        seat: Seat,
        sub: Option<&str>,
        now_unix_ms: u64,
    ) -> Result<Redirect, ReservationError> {
        {
            let mut view = self.view();
            match &seat {
                Seat::Join { room, .. }
                | Seat::QuickJoin {
                    room: Some(room), ..
                } => view.pending.seat(&node.id, RoomId(*room)),
                Seat::QuickJoin { room: None, .. } => view.pending.room(&node.id, 1),
                Seat::Create { join_as, .. } => {
                    view.pending.room(&node.id, u32::from(join_as.is_some()));
                }
            }
        }
        let jti = rand_os::random::<u128>();
        let signer = self.signer();
        let signer = signer.as_ref().ok_or(ReservationError::NoSecret)?;
        let reservation = signer.sign(&node.id, sub, seat, jti, now_unix_ms)?;
        Ok(Redirect {
            request_id,
            node: node.id.clone(),
            ws: node.ws.clone(),
            quic: node.quic.clone(),
            reservation,
            valid_for_ms: u32::try_from(signer.lifetime_ms()).unwrap_or(u32::MAX),
        })
    }

    /// Checks and claims (once) a reservation presented by a session
    /// signed in as `sub`.
    pub(crate) fn claim(
        &self,
        token: &str,
        sub: Option<&str>,
        now_unix_ms: u64,
    ) -> Result<Reservation, ReservationError> {
        let reservation = {
            let signer = self.signer();
            let signer = signer.as_ref().ok_or(ReservationError::NoSecret)?;
            signer.verify(token, &self.node_id, sub, now_unix_ms)?
        };
        self.ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .claim(&reservation, now_unix_ms)?;
        Ok(reservation)
    }

    fn signer(&self) -> MutexGuard<'_, Option<Signer>> {
        self.signer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn view(&self) -> MutexGuard<'_, View> {
        self.view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `/healthz`'s `cluster` field.
    pub(crate) fn health(&self) -> ClusterHealth {
        let view = self.view();
        ClusterHealth {
            node: self.node_id.clone(),
            redis: if view.redis_up { "up" } else { "down" },
            nodes: cluster::node_count(&self.node_id, &view.read),
        }
    }

    /// This node's `local` rooms merged with the other nodes' from the
    /// last beat.
    pub(crate) fn listing(&self, local: Vec<RoomRecord>) -> Vec<ListedRoom> {
        cluster::merge(&self.node_id, &self.ws, local, &self.view().read)
    }
}

/// This node's public rooms, as the directory holds them.
fn local_rooms(shared: &Shared) -> Vec<RoomRecord> {
    shared
        .lobby()
        .all_rooms()
        .into_iter()
        .filter_map(RoomRecord::public)
        .collect()
}

/// This node's rooms' invite codes (private rooms too).
fn local_codes(shared: &Shared) -> BTreeMap<String, u64> {
    shared
        .lobby()
        .codes()
        .map(|(code, id)| (code.to_string(), id.0))
        .collect()
}

/// This process's CPU time (user and system), from `getrusage`.
fn cpu_time() -> Duration {
    // SAFETY: `getrusage` writes into the zeroed struct we own and reads
    // nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &raw mut usage) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let of = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    of(usage.ru_utime) + of(usage.ru_stime)
}

/// The share of the machine's cores the process used between two
/// samples, percent.
#[derive(Debug)]
struct CpuSampler {
    last: (Instant, Duration),
    cores: f64,
}

impl CpuSampler {
    fn new() -> Self {
        Self {
            last: (Instant::now(), cpu_time()),
            cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
        }
    }

    fn sample(&mut self) -> f32 {
        let now = (Instant::now(), cpu_time());
        let wall = now.0.saturating_duration_since(self.last.0).as_secs_f64();
        let used = now.1.saturating_sub(self.last.1).as_secs_f64();
        self.last = now;
        if wall <= 0.0 {
            return 0.0;
        }
        ((used / wall / self.cores) * 100.0).clamp(0.0, 100.0) as f32
    }
}

/// The cluster rooms listing of `shared`'s node (`None` alone).
pub(crate) fn listing(shared: &Shared) -> Option<Vec<ListedRoom>> {
    let cluster = shared.cluster.as_ref()?;
    Some(cluster.listing(local_rooms(shared)))
}

/// Beats until the server's final cancellation, then removes this node's
/// keys (bounded by a heartbeat, at most [`LEAVE_WAIT`]).
pub(crate) async fn run(shared: Arc<Shared>, cluster: Arc<Cluster>) {
    let heartbeat = cluster.config.heartbeat();
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(heartbeat))
        .set_response_timeout(Some(heartbeat))
        .set_number_of_retries(RECONNECT_TRIES)
        .set_max_delay(heartbeat);
    let mut con =
        match ConnectionManager::new_lazy_with_config(cluster.client.clone(), manager_config) {
            Ok(con) => con,
            Err(error) => {
                warn!(%error, "cluster: cannot create the Redis connection; running alone");
                return;
            }
        };
    info!(node = %cluster.node_id, ws = %cluster.ws, url = %cluster.config.url, "cluster: joining");
    let mut every = tokio::time::interval(heartbeat);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let metrics = &shared.metrics;
    let mut cpu = CpuSampler::new();
    loop {
        tokio::select! {
            () = shared.cancel.cancelled() => break,
            _ = every.tick() => {}
        }
        let now_ms = super::now().unix_us / 1_000;
        let cpu_percent = cpu.sample();
        let outcome = tokio::time::timeout(
            heartbeat,
            beat(&mut con, &shared, &cluster, now_ms, cpu_percent),
        )
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "heartbeat timed out",
            )))
        });
        let mut view = cluster.view();
        match outcome {
            Ok(read) => {
                if !view.redis_up {
                    info!(
                        nodes = read.nodes.len(),
                        "cluster: Redis up, node registered"
                    );
                }
                if read.malformed > 0 {
                    warn!(
                        records = read.malformed,
                        "cluster: unreadable directory records left out"
                    );
                }
                let clashes = placement::tag_clashes(&cluster.node_id, cluster.tag, &read);
                if !clashes.is_empty() {
                    error!(node = %cluster.node_id, others = ?clashes, "cluster: another live node's room ids carry this node's tag; rename one of them (cluster.node_id)");
                }
                view.redis_up = true;
                view.read = read;
                view.pending = Pending::default();
            }
            Err(error) => {
                metrics.cluster_redis_errors.inc();
                if view.redis_up {
                    warn!(%error, "cluster: Redis unreachable; serving this node's rooms only");
                }
                view.redis_up = false;
                view.read = DirectoryRead::default();
                view.pending = Pending::default();
            }
        }
        metrics.cluster_redis_up.set(i64::from(view.redis_up));
        let nodes = cluster::node_count(&cluster.node_id, &view.read);
        metrics
            .cluster_nodes
            .set(i64::try_from(nodes).unwrap_or(i64::MAX));
    }
    let id = &cluster.node_id;
    let mut leave = redis::pipe();
    leave
        .del(node_key(id))
        .ignore()
        .del(rooms_key(id))
        .ignore()
        .del(codes_key(id))
        .ignore()
        .zrem(nodes_key(), id.as_str())
        .ignore();
    let left = tokio::time::timeout(heartbeat.min(LEAVE_WAIT), leave.query_async::<()>(&mut con));
    match left.await {
        Ok(Ok(())) => info!(node = %id, "cluster: left (keys deleted)"),
        Ok(Err(error)) => warn!(%error, "cluster: could not delete this node's keys; they expire"),
        Err(_) => warn!("cluster: deleting this node's keys timed out; they expire"),
    }
    metrics.cluster_redis_up.set(0);
}

/// Signs with the secret Redis holds from now on (still accepting
/// reservations signed with the one before).
fn adopt_secret(cluster: &Cluster, secret: &[u8]) {
    let mut signer = cluster.signer();
    match signer.as_mut() {
        None => {
            *signer = Some(Signer::new(secret, cluster.config.reservation_ms));
            info!("cluster: reservation secret shared through Redis");
        }
        Some(current) if !current.uses(secret) => {
            current.rotate(secret);
            warn!(
                "cluster: the shared reservation secret changed in Redis; adopted it (reservations signed with the old one stay valid)"
            );
        }
        Some(_) => {}
    }
}

/// One heartbeat: writes this node's keys and reads every live node's
/// (learning the cluster's secret on the way when it is not known).
async fn beat(
    con: &mut ConnectionManager,
    shared: &Shared,
    cluster: &Cluster,
    now_ms: u64,
    cpu_percent: f32,
) -> redis::RedisResult<DirectoryRead> {
    let id = &cluster.node_id;
    let expiry = cluster.config.expiry_ms;
    let rooms = local_rooms(shared);
    let codes = local_codes(shared);
    let record = NodeRecord {
        id: id.clone(),
        tag: cluster.tag,
        ws: cluster.ws.clone(),
        quic: cluster.quic.clone(),
        rooms: u32::try_from(shared.metrics.rooms.get()).unwrap_or(0),
        players: u32::try_from(shared.metrics.players.get()).unwrap_or(0),
        max_rooms: u32::try_from(shared.config.limits.max_rooms).unwrap_or(u32::MAX),
        cpu_percent,
        draining: shared.draining.is_cancelled(),
        written_unix_ms: now_ms,
    };
    let (Ok(record), Ok(rooms), Ok(codes)) = (
        serde_json::to_string(&record),
        serde_json::to_string(&rooms),
        serde_json::to_string(&codes),
    ) else {
        return Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "cannot serialise the node record",
        )));
    };
    let mut write = redis::pipe();
    for (key, value) in [
        (node_key(id), record),
        (rooms_key(id), rooms),
        (codes_key(id), codes),
    ] {
        write
            .cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(expiry)
            .ignore();
    }
    write
        .zadd(nodes_key(), id.as_str(), expires_at(now_ms, expiry))
        .ignore()
        .cmd("ZREMRANGEBYSCORE")
        .arg(nodes_key())
        .arg("-inf")
        .arg(trim_below(now_ms))
        .ignore()
        .zrange(nodes_key(), 0, -1);
    // Without a configured secret, the cluster's lives in Redis: the
    // first node draws it; every node offers the one it uses (so that a
    // Redis restarted empty gets it back) and adopts what Redis holds.
    let shared_secret = cluster.config.secret.is_none();
    if shared_secret {
        let offered = match cluster.signer().as_ref() {
            Some(signer) => String::from_utf8_lossy(&signer.secret_bytes()).into_owned(),
            None => format!(
                "{:032x}{:032x}",
                rand_os::random::<u128>(),
                rand_os::random::<u128>()
            ),
        };
        write
            .cmd("SET")
            .arg(secret_key())
            .arg(offered)
            .arg("NX")
            .ignore()
            .cmd("GET")
            .arg(secret_key());
    }
    let mut ids = if shared_secret {
        let (ids, secret): (Vec<String>, Option<String>) = write.query_async(con).await?;
        if let Some(secret) = secret.filter(|s| s.len() >= 16) {
            adopt_secret(cluster, secret.as_bytes());
        }
        ids
    } else {
        let (ids,): (Vec<String>,) = write.query_async(con).await?;
        ids
    };
    ids.truncate(MAX_NODES);
    if ids.is_empty() {
        return Ok(DirectoryRead::default());
    }
    let keys = DirectoryRead::keys(&ids);
    let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(con).await?;
    Ok(DirectoryRead::parse(&ids, &values))
}
