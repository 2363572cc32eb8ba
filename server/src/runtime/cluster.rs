//! The cluster's Redis shell (shell): one task per node that, on every
//! heartbeat, writes this node's record and public rooms with an expiry
//! and reads every live node's (the keys and the merge are the pure
//! [`crate::cluster`]'s), and deletes its keys on a clean stop.
//!
//! One beat is two round trips: a pipeline of five commands (`SET` the
//! node record `PX expiry`, `SET` the rooms `PX expiry`, `ZADD` the index,
//! `ZREMRANGEBYSCORE` its long-dead entries, `ZRANGE` it), then one `MGET`
//! of every indexed node's two keys. Listings read the last beat's result
//! (never Redis), so `/rooms` costs no Redis command.
//!
//! The connection is redis' `ConnectionManager`, created lazily (a node
//! starts while Redis is down) and reconnecting by itself when Redis
//! restarts. While Redis does not answer, the node serves its own rooms,
//! lists only them, and says `redis: down` in `/healthz` and
//! `tickwire_cluster_redis_up`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tracing::{info, warn};

use crate::cluster::{
    self, DirectoryRead, ListedRoom, NodeRecord, RoomRecord, expires_at, node_key, nodes_key,
    rooms_key, trim_below,
};
use crate::config::ClusterConfig;
use crate::error::ServerError;
use crate::http::{ClusterHealth, RoomDirectory};

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
    /// The WebSocket URL it advertises.
    pub(crate) ws: String,
    config: ClusterConfig,
    client: redis::Client,
    view: Mutex<View>,
}

/// The last beat's outcome.
#[derive(Debug, Default)]
struct View {
    redis_up: bool,
    read: DirectoryRead,
}

impl Cluster {
    /// The membership of node `node_id` advertising `ws`; connects to
    /// nothing yet.
    pub(crate) fn new(
        config: ClusterConfig,
        node_id: String,
        ws: String,
    ) -> Result<Self, ServerError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| ServerError::ClusterUrl(e.to_string()))?;
        Ok(Self {
            node_id,
            ws,
            config,
            client,
            view: Mutex::new(View::default()),
        })
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
        .public_rooms()
        .into_iter()
        .filter_map(RoomRecord::public)
        .collect()
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
    loop {
        tokio::select! {
            () = shared.cancel.cancelled() => break,
            _ = every.tick() => {}
        }
        let now_ms = super::now().unix_us / 1_000;
        let outcome = tokio::time::timeout(heartbeat, beat(&mut con, &shared, &cluster, now_ms))
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
                view.redis_up = true;
                view.read = read;
            }
            Err(error) => {
                metrics.cluster_redis_errors.inc();
                if view.redis_up {
                    warn!(%error, "cluster: Redis unreachable; serving this node's rooms only");
                }
                view.redis_up = false;
                view.read = DirectoryRead::default();
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

/// One heartbeat: writes this node's keys and reads every live node's.
async fn beat(
    con: &mut ConnectionManager,
    shared: &Shared,
    cluster: &Cluster,
    now_ms: u64,
) -> redis::RedisResult<DirectoryRead> {
    let id = &cluster.node_id;
    let expiry = cluster.config.expiry_ms;
    let rooms = local_rooms(shared);
    let record = NodeRecord {
        id: id.clone(),
        ws: cluster.ws.clone(),
        rooms: u32::try_from(shared.metrics.rooms.get()).unwrap_or(0),
        players: u32::try_from(shared.metrics.players.get()).unwrap_or(0),
        draining: shared.draining.is_cancelled(),
        written_unix_ms: now_ms,
    };
    let (record, rooms) = match (
        serde_json::to_string(&record),
        serde_json::to_string(&rooms),
    ) {
        (Ok(record), Ok(rooms)) => (record, rooms),
        _ => {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "cannot serialise the node record",
            )));
        }
    };
    let mut write = redis::pipe();
    write
        .cmd("SET")
        .arg(node_key(id))
        .arg(record)
        .arg("PX")
        .arg(expiry)
        .ignore()
        .cmd("SET")
        .arg(rooms_key(id))
        .arg(rooms)
        .arg("PX")
        .arg(expiry)
        .ignore()
        .zadd(nodes_key(), id.as_str(), expires_at(now_ms, expiry))
        .ignore()
        .cmd("ZREMRANGEBYSCORE")
        .arg(nodes_key())
        .arg("-inf")
        .arg(trim_below(now_ms))
        .ignore()
        .zrange(nodes_key(), 0, -1);
    let (mut ids,): (Vec<String>,) = write.query_async(con).await?;
    ids.truncate(MAX_NODES);
    if ids.is_empty() {
        return Ok(DirectoryRead::default());
    }
    let keys: Vec<String> = ids
        .iter()
        .map(|id| node_key(id))
        .chain(ids.iter().map(|id| rooms_key(id)))
        .collect();
    let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(con).await?;
    Ok(DirectoryRead::parse(&ids, &values))
}
