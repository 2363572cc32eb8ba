//! A minimal game client on the tickwire client library: connects,
//! quick-joins, plays the arena workload's inputs, and prints what it sees
//! once a second.
//!
//! ```sh
//! cargo run --release -p tickwire-server-cli &
//! cargo run --release -p tickwire-client --example play -- ws://127.0.0.1:7000/ws 10
//! ```

use std::time::{Duration, Instant};

use tickwire_client::{Client, Event, QuickJoinSpec};
use tickwire_shared::arena::{ArenaBot, BotConfig, PLAYER, PlayerView, player_field};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:7000/ws".into());
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);

    let mut client = Client::connect(&url, "example").await?;
    let joined = client.quick_join(QuickJoinSpec::default()).await?;
    println!(
        "player {} in room {} ({} Hz)",
        client.player(),
        joined.room.id,
        joined.tick_rate.hz()
    );

    let mut bot = ArenaBot::new(BotConfig::default(), 1, 0);
    let (start, mut second) = (Instant::now(), Instant::now());
    let (mut updates, mut bytes, mut latency_us) = (0u64, 0u64, 0u64);
    while start.elapsed() < Duration::from_secs(seconds) {
        match client.next_event().await? {
            Event::Update(update) => {
                updates += 1;
                if std::env::var_os("SHOW_AGES").is_some() {
                    print!("{}:{} ", update.baseline_age, update.bytes);
                }
                bytes += update.bytes as u64;
                latency_us += update.latency_us;
                client.send_input(&bot.next_input()).await?;
            }
            Event::UpdateFailed(e) => println!("update failed: {e}"),
            Event::Closed(closed) => {
                println!("closed: {:?} {}", closed.reason, closed.message);
                break;
            }
            _ => {}
        }
        if second.elapsed() >= Duration::from_secs(1) && updates > 0 {
            let Some(world) = client.world() else {
                continue;
            };
            let me = world
                .entities()
                .iter()
                .find(|e| {
                    e.kind == PLAYER && e.fields[player_field::PLAYER] == client.player().0 as i32
                })
                .and_then(|e| PlayerView::from_entity(e, joined.tick_rate));
            println!(
                "tick {:>6}  {:>3} entities  {:>2} updates/s  {:>5.1} B/update  latency {:.2} ms  me: {:?}",
                world.tick.0,
                world.len(),
                updates,
                bytes as f64 / updates as f64,
                latency_us as f64 / updates as f64 / 1e3,
                me.map(|p| (p.position, p.hp, p.score)),
            );
            (updates, bytes, latency_us) = (0, 0, 0);
            second = Instant::now();
        }
    }
    client.close().await;
    Ok(())
}
