//! Encoding and applying one tick's update for the arena at 16 and 256
//! players: the header and delta against the previous tick (what every
//! client gets each tick), a full snapshot, and the client side (apply plus
//! checksum).
//!
//! `cargo bench --bench delta`

mod support;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use support::ArenaRun;
use tickwire_shared::arena::SCHEMA;
use tickwire_shared::delta::{DeltaDecoder, DeltaEncoder};
use tickwire_shared::snapshot::WorldSnapshot;

/// Ticks recorded after warm-up; benchmarks cycle through them so the
/// figure is an average over varied ticks.
const SAMPLE_TICKS: u32 = 300;
/// Ticks to play first, so the world holds its steady-state projectiles.
const WARM_UP: u32 = 90;

fn recorded(players: u32) -> Vec<WorldSnapshot> {
    let mut run = ArenaRun::new(players);
    run.record(WARM_UP);
    run.record(SAMPLE_TICKS)
}

fn benches(c: &mut Criterion) {
    for players in [16u32, 256] {
        let worlds = recorded(players);
        let pairs: Vec<(&WorldSnapshot, &WorldSnapshot)> =
            worlds.windows(2).map(|w| (&w[0], &w[1])).collect();

        let mut group = c.benchmark_group("encode_update_age_1");
        let mut encoder = DeltaEncoder::new();
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut i = 0;
        group.bench_function(BenchmarkId::from_parameter(players), |b| {
            b.iter(|| {
                let (base, now) = pairs[i % pairs.len()];
                i += 1;
                support::encode_update(&mut encoder, Some(base), now, &mut buf);
                black_box(buf.len())
            })
        });
        group.finish();

        let mut group = c.benchmark_group("encode_full_snapshot");
        group.bench_function(BenchmarkId::from_parameter(players), |b| {
            b.iter(|| {
                let now = &worlds[i % worlds.len()];
                i += 1;
                support::encode_update(&mut encoder, None, now, &mut buf);
                black_box(buf.len())
            })
        });
        group.finish();

        // The client side: predict, apply and verify the checksum.
        let deltas: Vec<(&WorldSnapshot, Vec<u8>, u32)> = pairs
            .iter()
            .map(|(base, now)| {
                let mut bytes = Vec::new();
                encoder
                    .encode(&SCHEMA, Some(base), now, &mut bytes)
                    .expect("delta");
                (*base, bytes, now.checksum())
            })
            .collect();
        let mut decoder = DeltaDecoder::new();
        let mut out = WorldSnapshot::default();
        let mut group = c.benchmark_group("apply_update_age_1");
        group.bench_function(BenchmarkId::from_parameter(players), |b| {
            b.iter(|| {
                let (base, bytes, checksum) = &deltas[i % deltas.len()];
                i += 1;
                let tick = base.tick.next();
                decoder
                    .apply(&SCHEMA, Some(base), tick, bytes, &mut out)
                    .expect("applies");
                assert_eq!(out.checksum(), *checksum);
            })
        });
        group.finish();
    }
}

criterion_group!(name = delta; config = Criterion::default().sample_size(30); targets = benches);
criterion_main!(delta);
