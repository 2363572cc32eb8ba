//! A Rust client that creates or joins an arena room and reports, as JSON
//! lines on stdout, what it sees: first `{"room":ID,"code":"..."}` once it
//! is in the room, then once per update `{"tick":T,"players":[{"player":P,
//! "x":X,"y":Y}]}` with every checksum verified (a failed update prints
//! `{"error":"..."}` and exits non-zero). The browser tests drive it: it
//! creates the room the lobby page must list, and it checks that a
//! browser player's input moves its avatar.
//!
//! ```sh
//! cargo run -p tickwire-client --example observe -- ws://127.0.0.1:7000/ws create "bots' room" 30
//! cargo run -p tickwire-client --example observe -- ws://127.0.0.1:7000/ws join 3 30
//! ```

use std::time::{Duration, Instant};

use tickwire_client::{Client, Event, Role, RoomSpec, RoomTarget};
use tickwire_shared::arena::PlayerView;
use tickwire_shared::ids::RoomId;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, mode, target, seconds] = args.as_slice() else {
        eprintln!("usage: observe URL create NAME SECONDS | observe URL join ROOM_ID SECONDS");
        std::process::exit(2);
    };
    let seconds: u64 = seconds.parse()?;
    let mut client = Client::connect(url, "rust-observer").await?;
    let joined = match mode.as_str() {
        "create" => client.create_room(RoomSpec::new(target.as_str())).await?,
        "join" => {
            client
                .join(RoomTarget::Id(RoomId(target.parse()?)), Role::Player)
                .await?
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    let rate = joined.tick_rate;
    println!(
        "{}",
        serde_json::json!({
            "room": joined.room.id.0,
            "code": joined.room.code.map(|c| c.to_string()),
            "player": client.player().0,
        })
    );
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        let event = match tokio::time::timeout(Duration::from_secs(5), client.next_event()).await {
            Ok(event) => event?,
            Err(_) => return Err("no event for 5 s".into()),
        };
        match event {
            Event::Update(update) => {
                let Some(world) = client.world() else {
                    continue;
                };
                let players: Vec<serde_json::Value> = world
                    .entities()
                    .iter()
                    .filter_map(|e| PlayerView::from_entity(e, rate))
                    .map(|p| {
                        serde_json::json!({
                            "player": p.player.0,
                            "x": p.position.x,
                            "y": p.position.y,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({ "tick": update.tick.0, "players": players })
                );
            }
            Event::UpdateFailed(e) => {
                println!("{}", serde_json::json!({ "error": e.to_string() }));
                std::process::exit(1);
            }
            Event::Closed(closed) => {
                println!(
                    "{}",
                    serde_json::json!({ "closed": format!("{:?}", closed.reason) })
                );
                break;
            }
            _ => {}
        }
    }
    client.close().await;
    Ok(())
}
