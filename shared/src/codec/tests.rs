use proptest::prelude::*;

use super::*;
use crate::protocol::samples::{client_messages, server_messages};
use crate::protocol::{Ack, ClientMessage, Hello, PROTOCOL_VERSION};

fn client_frame(msg: &ClientMessage) -> Vec<u8> {
    let mut out = Vec::new();
    encode_client(msg, &mut out).expect("encodes");
    out
}

fn server_frame(msg: &ServerMessage) -> Vec<u8> {
    let mut out = Vec::new();
    encode_server(msg, &mut out).expect("encodes");
    out
}

#[test]
fn every_client_message_round_trips_with_its_kind_byte() {
    let samples = client_messages();
    let mut kinds: Vec<u8> = Vec::new();
    for (name, msg) in &samples {
        let frame = client_frame(msg);
        assert_eq!(
            decode_client(&frame, MAX_CLIENT_FRAME).as_ref(),
            Ok(msg),
            "{name}"
        );
        kinds.push(frame[0]);
    }
    kinds.dedup();
    assert_eq!(
        kinds,
        (0..CLIENT_KINDS).collect::<Vec<_>>(),
        "one sample per kind, in order"
    );
}

#[test]
fn every_server_message_round_trips_with_its_kind_byte() {
    let mut kinds: Vec<u8> = Vec::new();
    for (name, msg) in &server_messages() {
        let frame = server_frame(msg);
        assert_eq!(
            decode_server(&frame, MAX_SERVER_FRAME).as_ref(),
            Ok(msg),
            "{name}"
        );
        kinds.push(frame[0]);
    }
    kinds.dedup();
    assert_eq!(
        kinds,
        (0..SERVER_KINDS).collect::<Vec<_>>(),
        "one sample per kind, in order"
    );
}

#[test]
fn update_header_is_compact() {
    let update = ServerMessage::Update(Update {
        tick: Tick(900),
        baseline: Some(Tick(899)),
        lateness_us: 300,
        checksum: 1,
        delta: vec![1],
    });
    // kind 1 + tick 2 + age 1 + lateness 2 + checksum 4 + delta 1
    assert_eq!(server_frame(&update).len(), 11);
}

#[test]
fn update_baseline_must_precede_its_tick() {
    let mut out = Vec::new();
    let same = encode_update_header(Tick(5), Some(Tick(5)), 0, 0, &mut out);
    assert!(matches!(same, Err(EncodeError::Unencodable(_))));
    let after = encode_update_header(Tick(5), Some(Tick(6)), 0, 0, &mut out);
    assert!(after.is_err());
}

#[test]
fn an_update_whose_baseline_predates_tick_zero_is_malformed() {
    // tick 1, age 5
    let frame = [ServerMessage::UPDATE_KIND, 1, 5, 0, 0, 0, 0, 0];
    assert_eq!(
        decode_server(&frame, MAX_SERVER_FRAME),
        Err(DecodeError::Malformed("baseline before tick 0"))
    );
}

#[test]
fn empty_oversize_and_unknown_frames_are_typed_errors() {
    assert_eq!(
        decode_client(&[], MAX_CLIENT_FRAME),
        Err(DecodeError::Empty)
    );
    let big = vec![0u8; MAX_CLIENT_FRAME + 1];
    assert_eq!(
        decode_client(&big, MAX_CLIENT_FRAME),
        Err(DecodeError::TooLarge {
            len: MAX_CLIENT_FRAME + 1,
            limit: MAX_CLIENT_FRAME
        })
    );
    assert_eq!(
        decode_client(&[CLIENT_KINDS], MAX_CLIENT_FRAME),
        Err(DecodeError::UnknownKind(CLIENT_KINDS))
    );
    assert_eq!(
        decode_client(&[0xff, 1, 2], MAX_CLIENT_FRAME),
        Err(DecodeError::UnknownKind(0xff))
    );
    assert_eq!(
        decode_server(&[SERVER_KINDS], MAX_SERVER_FRAME),
        Err(DecodeError::UnknownKind(SERVER_KINDS))
    );
}

#[test]
fn every_truncation_of_every_message_is_an_error() {
    for (name, msg) in client_messages() {
        let frame = client_frame(&msg);
        for cut in 0..frame.len() {
            assert!(
                decode_client(&frame[..cut], MAX_CLIENT_FRAME).is_err(),
                "{name} cut at {cut}"
            );
        }
    }
    for (name, msg) in server_messages() {
        let frame = server_frame(&msg);
        // An update's delta is the rest of the frame, so cutting the delta
        // is caught by the delta decoder (and the checksum), not here; the
        // header is checked here.
        let header_end = match &msg {
            ServerMessage::Update(u) => frame.len() - u.delta.len(),
            _ => frame.len(),
        };
        for cut in 0..header_end {
            assert!(
                decode_server(&frame[..cut], MAX_SERVER_FRAME).is_err(),
                "{name} cut at {cut}"
            );
        }
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut frame = client_frame(&ClientMessage::Ack(Ack { tick: Tick(3) }));
    frame.push(0);
    assert_eq!(
        decode_client(&frame, MAX_CLIENT_FRAME),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn invalid_utf8_and_bad_enum_values_are_malformed() {
    let mut frame = client_frame(&ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        client_name: "ab".into(),
        auth_ticket: None,
        resume_token: None,
        resume_from: None,
    }));
    // kind, version (1 byte), name length, 'a', 'b', ...
    let at = frame.iter().position(|&b| b == b'a').expect("name present");
    frame[at] = 0xff;
    assert_eq!(
        decode_client(&frame, MAX_CLIENT_FRAME),
        Err(DecodeError::Malformed("invalid UTF-8 in a string"))
    );

    // A Close with a reason index past the last CloseReason.
    let frame = [12u8, 200, 0];
    assert!(matches!(
        decode_client(&frame, MAX_CLIENT_FRAME),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn a_length_prefix_larger_than_the_frame_does_not_allocate_it() {
    // Inputs with a claimed 2^32-1 inputs: bincode must stop at the frame end.
    let mut frame = vec![6u8, 1];
    frame.push(252); // u32 marker in bincode's varint
    frame.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode_client(&frame, MAX_CLIENT_FRAME).is_err());
}

#[test]
fn leb128_rejects_overlong_and_oversized_values() {
    let mut ok = Vec::new();
    write_leb128(u32::MAX, &mut ok);
    assert_eq!(read_leb128(&mut ok.as_slice()), Ok(u32::MAX));
    assert!(
        read_leb128(&mut [0x80, 0x00].as_slice()).is_err(),
        "overlong zero"
    );
    assert!(
        read_leb128(&mut [0xff, 0xff, 0xff, 0xff, 0x1f].as_slice()).is_err(),
        "above u32"
    );
    assert!(read_leb128(&mut [0x80, 0x80, 0x80, 0x80, 0x80, 0x01].as_slice()).is_err());
}

proptest! {
    #[test]
    fn arbitrary_client_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_client(&bytes, MAX_CLIENT_FRAME);
    }

    #[test]
    fn arbitrary_server_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_server(&bytes, MAX_SERVER_FRAME);
    }

    #[test]
    fn mutated_frames_never_panic(index in any::<prop::sample::Index>(), flip in 1u8..=255, which in 0usize..14) {
        let samples = client_messages();
        let (_, msg) = &samples[which % samples.len()];
        let mut frame = client_frame(msg);
        let at = index.index(frame.len());
        frame[at] ^= flip;
        let _ = decode_client(&frame, MAX_CLIENT_FRAME);
    }

    #[test]
    fn updates_round_trip(tick in 1u32.., age in 0u32..64, lateness in any::<u32>(), checksum in any::<u32>(),
                          delta in proptest::collection::vec(any::<u8>(), 0..64)) {
        let baseline = (age > 0).then(|| Tick(tick.saturating_sub(age))).filter(|b| b.0 < tick);
        let msg = ServerMessage::Update(Update { tick: Tick(tick), baseline, lateness_us: lateness, checksum, delta });
        let frame = server_frame(&msg);
        prop_assert_eq!(decode_server(&frame, MAX_SERVER_FRAME), Ok(msg));
    }
}

/// Found by the fuzz campaign (`shared/tests/fuzz.rs`, which also bounds
/// what these allocate): a short frame whose length field claims far more
/// than the frame holds is an error before the claim is allocated.
#[test]
fn a_length_claim_beyond_the_frame_is_an_error() {
    // ListRooms whose metadata value claims 65535 bytes.
    let client = [
        0x01, 0x01, 0x01, 0x05, 0x61, 0x01, 0x03, 0x6d, 0x61, 0x70, 0xfb, 0xff, 0xff,
    ];
    assert_eq!(
        decode_client(&client, MAX_CLIENT_FRAME),
        Err(DecodeError::Malformed(
            "a length exceeds what the frame holds"
        ))
    );
    // A server event whose data claims u64::MAX bytes.
    let mut server = vec![0x06, 0x0a];
    server.extend_from_slice(b"round_over");
    server.extend_from_slice(&[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert!(decode_server(&server, MAX_SERVER_FRAME).is_err());
}
