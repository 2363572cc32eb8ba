//! Prints the size of whole update frames (header included) over a seeded
//! 30 s arena run: full snapshots, and deltas against baselines 1, 3 and 10
//! ticks old, for 16 and 256 players.
//!
//! `cargo bench --bench update_sizes`

mod support;

use support::ArenaRun;
use tickwire_shared::delta::DeltaEncoder;
use tickwire_shared::snapshot::WorldSnapshot;

/// A 30 s run at 30 Hz.
const TICKS: u32 = 900;
fn frame_len(
    encoder: &mut DeltaEncoder,
    baseline: Option<&WorldSnapshot>,
    current: &WorldSnapshot,
    buf: &mut Vec<u8>,
) -> usize {
    support::encode_update(encoder, baseline, current, buf);
    buf.len()
}

fn stats(mut sizes: Vec<usize>) -> (f64, usize, usize) {
    sizes.sort_unstable();
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    let p99 = sizes[((sizes.len() as f64 * 0.99).ceil() as usize).min(sizes.len()) - 1];
    (mean, p99, *sizes.last().expect("non-empty"))
}

fn main() {
    println!(
        "update frame sizes in bytes, header included (seed {}, {TICKS} ticks at 30 Hz)",
        support::SEED
    );
    println!();
    println!("| players | update | mean | p99 | max | bytes/s per client |");
    println!("|---:|---|---:|---:|---:|---:|");
    for players in [16, 256] {
        let worlds = ArenaRun::new(players).record(TICKS);
        let mut encoder = DeltaEncoder::new();
        let mut buf = Vec::new();
        let full: Vec<usize> = worlds
            .iter()
            .map(|w| frame_len(&mut encoder, None, w, &mut buf))
            .collect();
        let mut rows = vec![("full snapshot".to_owned(), stats(full))];
        for age in [1usize, 3, 10] {
            let sizes = (age..worlds.len())
                .map(|t| frame_len(&mut encoder, Some(&worlds[t - age]), &worlds[t], &mut buf))
                .collect();
            rows.push((
                format!(
                    "delta, baseline {age} tick{} old",
                    if age == 1 { "" } else { "s" }
                ),
                stats(sizes),
            ));
        }
        for (name, (mean, p99, max)) in rows {
            println!(
                "| {players} | {name} | {mean:.1} | {p99} | {max} | {:.0} |",
                mean * 30.0
            );
        }
    }
}
