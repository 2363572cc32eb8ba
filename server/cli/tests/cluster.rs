//! Three real `tickwire-server` processes on one real `redis-server`: rooms
//! spread over the nodes, players reach every room from any node (the
//! client library follows the redirects), and a node killed with SIGKILL
//! (no cleanup at all) leaves every other node's listings within 2 s while
//! the players on the other nodes play on.

mod support;

// The root package's Redis harness, shared rather than copied.
#[allow(unreachable_pub, dead_code)]
#[path = "../../../tests/support/redis.rs"]
mod redis;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant};

use redis::RedisServer;
use serde_json::Value;
use tickwire_client::{Client, Event, RoomFilter, RoomSpec, RoomTarget};
use tickwire_shared::ids::RoomId;
use tickwire_shared::protocol::Role;

use support::start;

/// The bound on how fast listings follow the cluster.
const WITHIN: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(10);

/// A node: its process (killed when dropped) and address.
struct Node {
    child: Child,
    addr: String,
}

impl Node {
    fn start(redis: &RedisServer, id: &str) -> Self {
        let url = redis.url();
        let (child, addr, _logs) = start(&["--cluster", &url, "--node-id", id]);
        Self { child, addr }
    }

    fn ws(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// `GET /rooms`: the node ids of the rooms it lists.
    fn listed_nodes(&self) -> Vec<String> {
        let mut stream = TcpStream::connect(&self.addr).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        write!(
            stream,
            "GET /rooms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        let rooms: Value = serde_json::from_str(body).expect("JSON rooms");
        rooms
            .as_array()
            .expect("an array")
            .iter()
            .filter_map(|r| r["node"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn client(url: &str, name: &str) -> Client {
    tokio::time::timeout(WAIT, Client::builder(url).name(name).connect())
        .await
        .expect("connects in time")
        .expect("connects")
}

/// Polls `check` every 50 ms until it holds; panics after `within`.
async fn until(within: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

/// Reads events until `client`'s world has advanced `ticks` ticks.
async fn plays_on(client: &mut Client, ticks: u32) {
    let from = client.world().map_or(0, |w| w.tick.0);
    tokio::time::timeout(WAIT, async {
        while client.world().map_or(0, |w| w.tick.0) < from + ticks {
            match client.next_event().await.expect("event") {
                Event::Lost(reason) => panic!("lost: {reason}"),
                Event::Closed(closed) => panic!("closed: {closed:?}"),
                _ => {}
            }
        }
    })
    .await
    .expect("the world advances");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_one_lobby_and_a_killed_node_leaves_it_within_two_seconds() {
    let redis = RedisServer::start();
    let nodes = [
        Node::start(&redis, "n1"),
        Node::start(&redis, "n2"),
        Node::start(&redis, "n3"),
    ];
    // All three registered before rooms are placed.
    until(WAIT, "three nodes registered", || {
        redis.command(&["ZCARD", "tickwire:nodes"]).as_deref() == Some(":3")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(900)).await;

    // Hosts all reach n1; each new room goes to the least-loaded node.
    let mut hosts = Vec::new();
    for i in 0..3 {
        let mut host = client(&nodes[0].ws(), &format!("host-{i}")).await;
        let joined = host
            .create_room(RoomSpec::new(format!("room-{i}")).max_players(8))
            .await
            .expect("created");
        hosts.push((joined.room.id, host));
        // The directory sees the new room's player before the next one.
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    let tags: std::collections::BTreeSet<u32> = hosts.iter().map(|(id, _)| id.node_tag()).collect();
    assert_eq!(tags.len(), 3, "one room on each node, though all asked n1");
    let n3_room: RoomId = hosts
        .iter()
        .find(|(_, host)| host.url() == nodes[2].ws())
        .map(|(id, _)| *id)
        .expect("a room was placed on n3");

    // A guest on n2 joins every room by id: two by redirect.
    let mut guests = Vec::new();
    for (id, _) in &hosts {
        let mut guest = client(&nodes[1].ws(), "guest").await;
        let joined = guest
            .join(RoomTarget::Id(*id), Role::Player)
            .await
            .expect("joined from n2");
        assert_eq!(joined.room.id, *id);
        guests.push(guest);
    }
    assert_eq!(
        guests.iter().filter(|g| g.redirects() == 1).count(),
        2,
        "the rooms on n1 and n3 were reached through a redirect"
    );

    // Every node lists all three rooms.
    for node in &nodes {
        until(WITHIN, "every room listed everywhere", || {
            let mut listed = node.listed_nodes();
            listed.sort();
            listed == ["n1", "n2", "n3"]
        })
        .await;
    }

    // kill -9 n3.
    let [n1, n2, mut n3] = nodes;
    n3.child.kill().expect("SIGKILL");
    n3.child.wait().expect("reaped");
    let killed = Instant::now();
    for node in [&n1, &n2] {
        until(
            WITHIN.saturating_sub(killed.elapsed()),
            "n3's room leaves the listing",
            || !node.listed_nodes().iter().any(|n| n == "n3"),
        )
        .await;
    }
    let took = killed.elapsed();
    let mut looker = client(&n1.ws(), "looker").await;
    let listed = looker
        .list_rooms(RoomFilter::default())
        .await
        .expect("listed");
    assert!(
        listed.iter().all(|r| r.id != n3_room),
        "ListRooms forgot it too"
    );
    assert_eq!(listed.len(), 2);
    eprintln!("the killed node left every listing after {took:?}");

    // The players on n1 and n2 play on.
    for (id, host) in &mut hosts {
        if *id != n3_room {
            plays_on(host, 30).await;
        }
    }
    // A join for the dead node's room is refused, not redirected.
    match looker.join(RoomTarget::Id(n3_room), Role::Player).await {
        Err(tickwire_client::ClientError::Refused(e)) => {
            assert_eq!(e.code, tickwire_shared::protocol::ErrorCode::RoomNotFound);
        }
        other => panic!("{other:?}"),
    }
    drop((n1, n2));
}
