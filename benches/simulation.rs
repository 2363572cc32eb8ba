//! One arena simulation step (inputs from the workload's bots, the five
//! rules, and the snapshot the room takes after it) at 16 and 256 players.
//!
//! `cargo bench --bench simulation`

mod support;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use support::ArenaRun;
use tickwire_shared::snapshot::WorldSnapshot;

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("arena_step");
    for players in [16u32, 256] {
        let mut run = ArenaRun::new(players);
        run.record(90);
        let mut world = WorldSnapshot::default();
        group.bench_function(BenchmarkId::from_parameter(players), |b| {
            b.iter(|| {
                run.step();
                run.snapshot_into(&mut world);
                world.len()
            })
        });
    }
    group.finish();
}

criterion_group!(name = simulation; config = Criterion::default().sample_size(30); targets = benches);
criterion_main!(simulation);
