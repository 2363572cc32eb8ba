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
use tickwire_client::{Event, QuickJoinSpec, RoomFilter, RoomSpec};
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

// ---- joins across nodes (the client library follows redirects) ----

/// A client of the library connected to `server`, named `name`.
async fn library_client(server: &TestServer, name: &str) -> tickwire_client::Client {
    tokio::time::timeout(
        WAIT,
        tickwire_client::Client::builder(server.ws_url())
            .name(name)
            .connect(),
    )
    .await
    .expect("connects in time")
    .expect("connects")
}

/// Waits until `server`'s `ListRooms` shows room `id` (its directory has
/// the other node's latest beat).
async fn until_listed(server: &TestServer, id: RoomId) {
    let mut looker = library_client(server, "looker").await;
    let start = Instant::now();
    loop {
        let rooms = looker
            .list_rooms(RoomFilter::default())
            .await
            .expect("listed");
        if rooms.iter().any(|r| r.id == id) {
            return;
        }
        assert!(
            start.elapsed() < WITHIN,
            "the room is listed cluster-wide within {WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One more heartbeat of every node, so directories hold what was just
/// written (codes, counts).
async fn a_beat() {
    tokio::time::sleep(Duration::from_millis(2 * HEARTBEAT_MS + 100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_by_id_and_by_code_reach_rooms_on_another_node() {
    let redis = RedisServer::start();
    let a = node(&redis, "node-a").await;
    let b = node(&redis, "node-b").await;
    let mut host = library_client(&b, "host").await;
    let public = host
        .create_room(RoomSpec::new("on-b").max_players(4))
        .await
        .expect("created on B (the tie stays where asked)");
    assert_eq!(host.redirects(), 0);
    a_beat().await;
    // B holds a player now, A none: a room asked for on B goes to A.
    let mut shy = library_client(&b, "shy").await;
    let private = shy
        .create_room(
            RoomSpec::new("hidden")
                .visibility(Visibility::Private)
                .max_players(2),
        )
        .await
        .expect("private room, placed on A");
    assert_eq!((shy.url(), shy.redirects()), (a.ws_url().as_str(), 1));
    let code = private.room.code.expect("the creator sees the code");
    assert_ne!(
        public.room.id.node_tag(),
        0,
        "a cluster node's ids carry its tag"
    );
    until_listed(&a, public.room.id).await;

    // By id, from A: the library follows the redirect to B.
    let mut guest = library_client(&a, "guest").await;
    let listed = guest
        .list_rooms(RoomFilter::default())
        .await
        .expect("listed");
    assert!(
        listed.iter().all(|r| r.id != private.room.id),
        "private rooms are never listed"
    );
    let joined = guest
        .join(RoomTarget::Id(public.room.id), Role::Player)
        .await
        .expect("joined through the redirect");
    assert_eq!(joined.room.id, public.room.id);
    assert_eq!(joined.room.players, 2);
    assert_eq!((guest.redirects(), guest.url()), (1, b.ws_url().as_str()));
    let mut saw = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout(WAIT, guest.next_event()).await {
        match event {
            Event::Update(_) => break,
            other => saw.push(other),
        }
    }
    assert!(
        matches!(saw.as_slice(), [Event::Redirected { node, .. }, Event::Moved { node: moved, .. }, ..] if node == "node-b" && moved == "node-b"),
        "{saw:?}"
    );
    assert!(guest.world().is_some(), "the world arrives from B");

    // By code, from B: B finds A's code in the directory.
    a_beat().await;
    let mut friend = library_client(&b, "friend").await;
    let joined = friend
        .join(RoomTarget::Code(code), Role::Player)
        .await
        .expect("joined by code through the redirect");
    assert_eq!(joined.room.id, private.room.id);
    assert_eq!(friend.url(), a.ws_url());

    // An id whose node is not in the cluster: not found, no redirect.
    let nowhere = RoomId::compose(public.room.id.node_tag() ^ 1, 1);
    match friend_of(&a)
        .await
        .join(RoomTarget::Id(nowhere), Role::Player)
        .await
    {
        Err(tickwire_client::ClientError::Refused(e)) => {
            assert_eq!(e.code, ErrorCode::RoomNotFound);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        a.metric("tickwire_cluster_redirects_total{reason=\"join\"}")
            .await,
        1.0
    );
    for reason in ["create", "join_by_code"] {
        let sample = format!("tickwire_cluster_redirects_total{{reason=\"{reason}\"}}");
        assert_eq!(b.metric(&sample).await, 1.0, "{reason}");
    }
    let ok = "tickwire_cluster_claims_total{reason=\"ok\"}";
    assert_eq!(
        a.metric(ok).await,
        2.0,
        "the private room's creator and friend"
    );
    assert_eq!(b.metric(ok).await, 1.0, "the guest");
}

async fn friend_of(server: &TestServer) -> tickwire_client::Client {
    library_client(server, "friend").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_is_single_use_signed_and_for_its_node_only() {
    let redis = RedisServer::start();
    let a = node(&redis, "node-a").await;
    let b = node(&redis, "node-b").await;
    let mut host = library_client(&b, "host").await;
    let room = host
        .create_room(RoomSpec::new("on-b").max_players(8))
        .await
        .expect("room on B");
    until_listed(&a, room.room.id).await;
    // A client that does not follow redirects gets the redirect itself.
    let mut manual = tickwire_client::Client::builder(a.ws_url())
        .name("manual")
        .follow_redirects(false)
        .connect()
        .await
        .expect("connects");
    let redirect = match manual
        .join(RoomTarget::Id(room.room.id), Role::Player)
        .await
    {
        Err(tickwire_client::ClientError::Redirected(r)) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (redirect.node.as_str(), redirect.ws.as_str()),
        ("node-b", b.ws_url().as_str())
    );
    assert_eq!(redirect.valid_for_ms, 30_000);
    assert!(manual.room().is_none(), "still on A, in the lobby");

    let claim = |reservation: String| {
        move |request_id| {
            ClientMessage::ClaimSeat(ClaimSeat {
                request_id,
                reservation,
            })
        }
    };
    // On A (not the node it names): refused.
    let mut wrong = Client::greeted(&a, "wrong-node").await;
    let refused = wrong.request(claim(redirect.reservation.clone())).await;
    assert_eq!(
        refused.expect_err("refused").code,
        ErrorCode::ReservationRefused
    );
    // Forged or damaged: refused.
    let mut forger = Client::greeted(&b, "forger").await;
    let mut forged = redirect.reservation.clone();
    forged.truncate(forged.len() - 3);
    forged.push_str("AAA");
    for bad in [forged, "not a token".to_owned(), "x".repeat(3_000)] {
        let refused = forger.request(claim(bad)).await;
        assert_eq!(
            refused.expect_err("refused").code,
            ErrorCode::ReservationRefused
        );
    }
    // On B: taken once...
    let mut first = Client::greeted(&b, "first").await;
    match first.request(claim(redirect.reservation.clone())).await {
        Ok(ServerMessage::Joined(j)) => assert_eq!(j.room.id, room.room.id),
        other => panic!("{other:?}"),
    }
    // ...and never again.
    let mut second = Client::greeted(&b, "second").await;
    let refused = second.request(claim(redirect.reservation.clone())).await;
    assert_eq!(
        refused.expect_err("used").code,
        ErrorCode::ReservationRefused
    );
    for (reason, count) in [
        ("ok", 1.0),
        ("used", 1.0),
        ("bad_signature", 1.0),
        ("malformed", 2.0),
    ] {
        assert_eq!(
            b.metric(&format!(
                "tickwire_cluster_claims_total{{reason=\"{reason}\"}}"
            ))
            .await,
            count,
            "{reason}"
        );
    }
    assert_eq!(
        a.metric("tickwire_cluster_claims_total{reason=\"other_node\"}")
            .await,
        1.0
    );
    // Everyone else plays on: the host still gets updates.
    let now = host.world().map_or(0, |w| w.tick.0);
    while host.world().map_or(0, |w| w.tick.0) < now + 5 {
        tokio::time::timeout(WAIT, host.next_event())
            .await
            .expect("updates keep coming")
            .expect("event");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_redirected_joins_keeps_every_reservation() {
    const JOINERS: usize = 120;
    let redis = RedisServer::start();
    let a = node(&redis, "node-a").await;
    let b = node(&redis, "node-b").await;
    let mut host = library_client(&b, "host").await;
    let room = host
        .create_room(RoomSpec::new("big").max_players(200))
        .await
        .expect("room on B");
    until_listed(&a, room.room.id).await;
    let url = a.ws_url();
    let joins = (0..JOINERS).map(|i| {
        let url = url.clone();
        tokio::spawn(async move {
            let mut client = tickwire_client::Client::builder(url)
                .name(format!("burst-{i}"))
                .connect()
                .await
                .expect("connects");
            let joined = client
                .join(RoomTarget::Id(room.room.id), Role::Player)
                .await;
            (joined.map(|j| j.room.id), client.redirects(), client)
        })
    });
    let mut clients = Vec::new();
    for join in futures_util::future::join_all(joins).await {
        let (joined, redirects, client) = join.expect("task");
        assert_eq!(joined.expect("every burst join seated"), room.room.id);
        assert_eq!(redirects, 1);
        clients.push(client);
    }
    assert_eq!(
        b.metric("tickwire_cluster_claims_total{reason=\"ok\"}")
            .await,
        JOINERS as f64
    );
    assert_eq!(
        b.metric("tickwire_cluster_claims_total{reason=\"expired\"}")
            .await,
        0.0,
        "no reservation expired"
    );
    assert_eq!(b.metric("tickwire_players").await, (JOINERS + 1) as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_join_fills_rooms_across_nodes_and_new_rooms_go_to_the_least_loaded_node() {
    let redis = RedisServer::start();
    let small = |id: &str| {
        let config = cluster(&redis, id);
        move |c: &mut tickwire_server::config::ServerConfig| {
            c.cluster = Some(config);
            c.limits.quick_join_room_size = 3;
        }
    };
    let a = TestServer::start_with(small("node-a")).await;
    let b = TestServer::start_with(small("node-b")).await;
    let mut players = Vec::new();
    // Six players, alternating the node they reach, the directories
    // caught up between joins: two full rooms of three.
    for i in 0..6 {
        let server = if i % 2 == 0 { &a } else { &b };
        let mut client = library_client(server, &format!("q{i}")).await;
        let joined = client
            .quick_join(QuickJoinSpec::default())
            .await
            .expect("quick-joined");
        players.push((joined.room.id, client));
        a_beat().await;
    }
    let rooms: std::collections::BTreeSet<RoomId> = players.iter().map(|(r, _)| *r).collect();
    assert_eq!(rooms.len(), 2, "two rooms filled, not more: {rooms:?}");
    for room in &rooms {
        assert_eq!(players.iter().filter(|(r, _)| r == room).count(), 3);
    }
    // The first room went where the first player asked (a tie); the
    // second to the other node, the least loaded once the first was full.
    let tags: std::collections::BTreeSet<u32> = rooms.iter().map(|r| r.node_tag()).collect();
    assert_eq!(tags.len(), 2, "one room on each node");
    assert!(
        players.iter().any(|(_, c)| c.redirects() > 0),
        "some joins crossed nodes"
    );
    // Every player plays: updates flow on both nodes.
    for (_, client) in &mut players {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Event::Update(_) = client.next_event().await.expect("event") {
                    break;
                }
            }
        })
        .await
        .expect("updates");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_node_receives_no_new_room_and_sends_its_creators_elsewhere() {
    let redis = RedisServer::start();
    let a = node(&redis, "node-a").await;
    let config = cluster(&redis, "node-b");
    let mut b = TestServer::start_with(move |c| {
        c.cluster = Some(config);
        // A drain long enough for the test (it ends early only when the
        // last member leaves).
        c.timeouts.drain_ms = 30_000;
    })
    .await;
    // A is busier than B: one room, one player.
    let mut busy = library_client(&a, "busy").await;
    busy.create_room(RoomSpec::new("on-a"))
        .await
        .expect("room on A");
    a_beat().await;
    // Without a drain, a room asked for on A goes to B (fewer players).
    let mut first = library_client(&a, "first").await;
    let placed = first
        .create_room(RoomSpec::new("placed"))
        .await
        .expect("created");
    assert_eq!(first.url(), b.ws_url(), "placed on the least-loaded node");
    // `first` stays seated on B: a drain with no member left would end.
    b.begin_drain();
    a_beat().await;
    // Draining B: A keeps the next room itself, however loaded.
    let mut second = library_client(&a, "second").await;
    second
        .create_room(RoomSpec::new("kept"))
        .await
        .expect("created on A");
    assert_eq!((second.url(), second.redirects()), (a.ws_url().as_str(), 0));
    // And a client on B is sent to A for a new room.
    let mut leaving = library_client(&b, "on-draining-b").await;
    leaving
        .create_room(RoomSpec::new("elsewhere"))
        .await
        .expect("created on A through a redirect");
    assert_eq!(leaving.url(), a.ws_url());
    // B's rooms leave A's listings (they take no one).
    let mut looker = library_client(&a, "looker").await;
    let listed = looker
        .list_rooms(RoomFilter::default())
        .await
        .expect("list");
    assert!(
        listed.iter().all(|r| r.id != placed.room.id),
        "the draining node's room is not offered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_swarm_through_one_node_plays_on_three_with_every_checksum_agreeing() {
    use tickwire_bot::behaviour::BehaviourKind;
    use tickwire_bot::swarm;
    let redis = RedisServer::start();
    let a = node(&redis, "node-a").await;
    let b = node(&redis, "node-b").await;
    let c = node(&redis, "node-c").await;
    until(WITHIN, "three nodes", || async {
        json(&a, "/healthz").await["cluster"]["nodes"] == 3
    })
    .await;
    let url = swarm::ws_url(&format!("ws://{}", a.addr));
    let config = bots::short_swarm(url, Default::default(), 6, 4, BehaviourKind::Arena, 3);
    let report = swarm::run(config, |_| {}).await;
    bots::assert_clean(&report, 24, 24.0);
    let claimed_elsewhere = b
        .metric("tickwire_cluster_claims_total{reason=\"ok\"}")
        .await
        + c.metric("tickwire_cluster_claims_total{reason=\"ok\"}")
            .await;
    assert!(
        claimed_elsewhere > 0.0,
        "rooms were placed on the other nodes"
    );
    assert_eq!(report.bots.redirected as f64, claimed_elsewhere);
    let redirected = report
        .join_redirected_ms
        .expect("redirected joins measured apart");
    assert!(redirected.count > 0 && report.join_direct_ms.count > 0);
    eprintln!("{}", report.summary());
}
