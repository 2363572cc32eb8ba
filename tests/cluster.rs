//! Several nodes on one Redis room directory (issue 15's first slice),
//! against a real `redis-server`: a room created on one node is listed by
//! another's `/rooms` with its node and URL; a node that dies without
//! cleanup leaves every listing within 2 s; a node whose Redis stops keeps
//! serving and says so, then registers again by itself when Redis is
//! back; without a cluster nothing changes.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::redis::RedisServer;
use support::*;
use tickwire_server::config::ClusterConfig;
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::*;
use tickwire_shared::tick::Tick;

/// The tests' heartbeat and expiry, ms.
const HEARTBEAT_MS: u64 = 300;
const EXPIRY_MS: u64 = 1_000;

/// The bound on how fast listings follow the cluster.
const WITHIN: Duration = Duration::from_secs(2);

fn cluster(redis: &RedisServer, node: &str) -> ClusterConfig {
    ClusterConfig {
        url: redis.url(),
        node_id: Some(node.into()),
        advertise_ws: None,
        heartbeat_ms: HEARTBEAT_MS,
        expiry_ms: EXPIRY_MS,
        ..ClusterConfig::default()
    }
}

async fn node(redis: &RedisServer, id: &str) -> TestServer {
    let config = cluster(redis, id);
    TestServer::start_with(move |c| c.cluster = Some(config)).await
}

async fn json(server: &TestServer, path: &str) -> Value {
    let (status, body) = server.get(path).await;
    assert!(status == 200 || status == 503, "{path}: {status} {body}");
    serde_json::from_str(&body).expect("JSON")
}

/// Polls `check` every 50 ms until it holds; panics after `within`.
/// Returns how long it took.
async fn until<F, Fut>(within: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    for _ in 0..1_000 {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: gave up");
}

/// The `/rooms` entries of `node`'s listing that live on node `on`.
async fn rooms_on(server: &TestServer, on: &str) -> Vec<Value> {
    json(server, "/rooms")
        .await
        .as_array()
        .expect("an array")
        .iter()
        .filter(|r| r["node"] == on)
        .cloned()
        .collect()
}

async fn public_room(server: &TestServer, name: &str) -> (Client, u64) {
    let mut host = Client::greeted(server, "host").await;
    match host
        .create_room(name, Visibility::Public, 4, Some(Role::Player))
        .await
    {
        Ok(ServerMessage::Joined(j)) => {
            let id = j.room.id.0;
            (host, id)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_on_one_node_is_listed_by_another() {
    let redis = RedisServer::start();
    let a = node(&redis, "node-a").await;
    let b = node(&redis, "node-b").await;
    let (_host, id) = public_room(&a, "on-a").await;
    let mut private = Client::greeted(&a, "shy").await;
    private
        .create_room("hidden", Visibility::Private, 2, Some(Role::Player))
        .await
        .expect("private room");

    let took = until(WITHIN, "B lists A's room", || async {
        !rooms_on(&b, "node-a").await.is_empty()
    })
    .await;
    let listed = rooms_on(&b, "node-a").await;
    assert_eq!(listed.len(), 1, "only the public room: {listed:?}");
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["name"], "on-a");
    assert_eq!(listed[0]["ws"], a.ws_url(), "A's advertised URL");
    assert_eq!(listed[0]["players"], 1);
    assert!(listed[0].get("code").is_none(), "never an invite code");
    // A lists its own room too, named by its node.
    let own = rooms_on(&a, "node-a").await;
    assert_eq!(own.len(), 1);
    let health = json(&b, "/healthz").await;
    assert_eq!(health["cluster"]["redis"], "up");
    assert_eq!(health["cluster"]["node"], "node-b");
    assert_eq!(health["cluster"]["nodes"], 2);
    assert_eq!(b.metric("tickwire_cluster_redis_up").await, 1.0);
    assert_eq!(b.metric("tickwire_cluster_nodes").await, 2.0);
    eprintln!("listed on the other node after {took:?}");

    // A clean stop deletes A's keys at once (no wait for the expiry).
    a.stop().await.expect("clean stop");
    assert_eq!(
        redis
            .command(&["EXISTS", "tickwire:node:node-a"])
            .as_deref(),
        Some(":0")
    );
    assert_eq!(
        redis
            .command(&["EXISTS", "tickwire:rooms:node-a"])
            .as_deref(),
        Some(":0")
    );
    until(WITHIN, "B forgets the stopped node", || async {
        rooms_on(&b, "node-a").await.is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_dies_leaves_the_listing_within_two_seconds() {
    let redis = RedisServer::start();
    let b = node(&redis, "node-b").await;
    // Node A on a runtime of its own, so that it can die without running
    // any of its cleanup: dropping the runtime drops its heartbeat task
    // where it stands, as kill -9 would.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = cluster(&redis, "node-a");
    let a = runtime
        .spawn(async move { TestServer::start_with(move |c| c.cluster = Some(config)).await })
        .await
        .expect("node A starts");
    let (_host, _id) = public_room(&a, "doomed").await;
    until(WITHIN, "B lists A's room", || async {
        !rooms_on(&b, "node-a").await.is_empty()
    })
    .await;

    std::mem::forget(a); // no stop signal: it dies, it does not stop
    runtime.shutdown_background();
    let took = until(WITHIN, "A's rooms leave B's listing", || async {
        rooms_on(&b, "node-a").await.is_empty()
    })
    .await;
    eprintln!("dead node left the listing after {took:?}");
    until(WITHIN, "B counts one node", || async {
        json(&b, "/healthz").await["cluster"]["nodes"] == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_keeps_serving_while_redis_is_down_and_registers_again() {
    let mut redis = RedisServer::start();
    let port = redis.port;
    let a = node(&redis, "node-a").await;
    let (mut host, id) = public_room(&a, "steady").await;
    host.until_tick(Tick(2)).await;
    until(WITHIN, "A registered", || async {
        redis
            .command(&["EXISTS", "tickwire:node:node-a"])
            .as_deref()
            == Some(":1")
    })
    .await;

    redis.stop();
    until(
        Duration::from_secs(3),
        "healthz says redis down",
        || async { json(&a, "/healthz").await["cluster"]["redis"] == "down" },
    )
    .await;
    let health = json(&a, "/healthz").await;
    assert_eq!(health["status"], "ok", "still serving: {health}");
    assert_eq!(a.metric("tickwire_cluster_redis_up").await, 0.0);
    assert!(a.metric("tickwire_cluster_redis_errors_total").await >= 1.0);
    // The room plays on, and the node still lists it.
    let now = host.replica().latest().map_or(Tick(0), |w| w.tick);
    host.until_tick(Tick(now.0 + 10)).await;
    let own = rooms_on(&a, "node-a").await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["id"], id);
    // A newcomer still gets in.
    let mut late = Client::greeted(&a, "late").await;
    late.join(RoomTarget::Id(RoomId(id)), Role::Player)
        .await
        .expect("joins while Redis is down");

    let redis = RedisServer::start_on(port);
    let took = until(Duration::from_secs(5), "A registers again", || async {
        redis
            .command(&["EXISTS", "tickwire:node:node-a"])
            .as_deref()
            == Some(":1")
            && json(&a, "/healthz").await["cluster"]["redis"] == "up"
    })
    .await;
    eprintln!("registered again {took:?} after Redis came back");
    assert_eq!(
        redis
            .command(&["EXISTS", "tickwire:rooms:node-a"])
            .as_deref(),
        Some(":1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cluster_nothing_changes() {
    let server = TestServer::start().await;
    let (_host, id) = public_room(&server, "alone").await;
    let health = json(&server, "/healthz").await;
    assert!(health.get("cluster").is_none(), "{health}");
    let rooms = json(&server, "/rooms").await;
    assert_eq!(rooms[0]["id"], id);
    assert!(rooms[0].get("node").is_none(), "{rooms}");
    assert_eq!(server.metric("tickwire_cluster_redis_up").await, 0.0);
}
