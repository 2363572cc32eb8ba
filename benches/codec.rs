//! Encoding and decoding every message kind (the protocol's sample
//! messages) through the codec.
//!
//! `cargo bench --bench codec`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tickwire_shared::codec;
use tickwire_shared::protocol::samples::{client_messages, server_messages};

fn benches(c: &mut Criterion) {
    let mut buf = Vec::with_capacity(4096);
    let mut group = c.benchmark_group("client_message");
    for (name, msg) in client_messages() {
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                buf.clear();
                codec::encode_client(black_box(&msg), &mut buf).expect("encodes");
            })
        });
        buf.clear();
        codec::encode_client(&msg, &mut buf).expect("encodes");
        let frame = buf.clone();
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                codec::decode_client(black_box(&frame), codec::MAX_CLIENT_FRAME).expect("decodes")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("server_message");
    for (name, msg) in server_messages() {
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                buf.clear();
                codec::encode_server(black_box(&msg), &mut buf).expect("encodes");
            })
        });
        buf.clear();
        codec::encode_server(&msg, &mut buf).expect("encodes");
        let frame = buf.clone();
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                codec::decode_server(black_box(&frame), codec::MAX_SERVER_FRAME).expect("decodes")
            })
        });
    }
    group.finish();
}

criterion_group!(name = codec_benches; config = Criterion::default().sample_size(20); targets = benches);
criterion_main!(codec_benches);
