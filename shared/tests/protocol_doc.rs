//! `docs/protocol.md` is the contract other-language clients are written
//! from; these tests keep it from silently falling behind the code: every
//! golden vector is listed and its annotated listing holds exactly its
//! bytes, the kind, error-code and close-reason tables match the enums,
//! and the encoding rules the document states hold for the codec.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use tickwire_shared::arena::{ArenaInput, SCHEMA};
use tickwire_shared::codec::{self, DecodeError};
use tickwire_shared::delta;
use tickwire_shared::protocol::samples::{client_messages, server_messages};
use tickwire_shared::protocol::{CloseReason, ErrorCode, PROTOCOL_VERSION, ServerMessage};
use tickwire_shared::tick::Tick;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
}

fn doc() -> String {
    std::fs::read_to_string(root().join("docs/protocol.md")).expect("docs/protocol.md")
}

fn golden_dir() -> PathBuf {
    root().join("shared/tests/golden")
}

/// The golden files on disk, by name without `.hex`, with their bytes.
fn golden_files() -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(golden_dir())
        .expect("golden dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "hex"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("golden file");
            (
                name,
                parse_hex(text.split_whitespace(), &path.display().to_string()),
            )
        })
        .collect()
}

fn parse_hex<'a>(tokens: impl Iterator<Item = &'a str>, what: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    for token in tokens {
        assert!(token.len() % 2 == 0, "{what}: odd hex {token:?}");
        for i in (0..token.len()).step_by(2) {
            let pair = &token[i..i + 2];
            let byte = u8::from_str_radix(pair, 16)
                .unwrap_or_else(|_| panic!("{what}: {pair:?} is not a hex byte"));
            bytes.push(byte);
        }
    }
    bytes
}

/// The annotated listings of the document: a fenced block whose first line
/// is `golden/NAME.hex`, then lines of space-separated hex bytes, two
/// spaces, and the annotation (a line with no bytes starts with spaces).
fn listings(doc: &str) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("```") {
            continue;
        }
        let Some(first) = lines.next() else { break };
        let name = first
            .trim()
            .strip_prefix("golden/")
            .and_then(|rest| rest.strip_suffix(".hex"));
        let Some(name) = name else {
            // Not a listing: skip to the end of the block.
            if first.starts_with("```") {
                continue;
            }
            for inner in lines.by_ref() {
                if inner.starts_with("```") {
                    break;
                }
            }
            continue;
        };
        let mut bytes = Vec::new();
        for inner in lines.by_ref() {
            if inner.starts_with("```") {
                break;
            }
            let hex = inner.split("  ").next().unwrap_or("");
            bytes.extend(parse_hex(
                hex.split_whitespace(),
                &format!("listing {name}, line {inner:?}"),
            ));
        }
        let previous = found.insert(name.to_owned(), bytes);
        assert!(previous.is_none(), "two listings of {name}");
    }
    found
}

#[test]
fn the_golden_files_are_exactly_the_samples() {
    let on_disk: BTreeSet<String> = golden_files().into_keys().collect();
    let samples: BTreeSet<String> = client_messages()
        .iter()
        .map(|(name, _)| format!("client_{name}"))
        .chain(
            server_messages()
                .iter()
                .map(|(name, _)| format!("server_{name}")),
        )
        .collect();
    assert_eq!(on_disk, samples, "a golden file without a sample, or back");
}

#[test]
fn every_golden_file_is_listed_and_annotated_byte_for_byte() {
    let doc = doc();
    let listed = listings(&doc);
    for (name, bytes) in golden_files() {
        assert!(
            doc.contains(&format!("`{name}.hex`")),
            "docs/protocol.md does not list {name}.hex in its table"
        );
        let Some(annotated) = listed.get(&name) else {
            panic!("docs/protocol.md has no annotated listing of {name}.hex");
        };
        assert_eq!(
            annotated, &bytes,
            "the listing of {name}.hex in docs/protocol.md is not its bytes"
        );
    }
    for name in listed.keys() {
        assert!(
            golden_dir().join(format!("{name}.hex")).exists(),
            "docs/protocol.md annotates {name}.hex, which does not exist"
        );
    }
}

#[test]
fn the_document_states_the_current_version() {
    let doc = doc();
    let title = doc.lines().next().expect("a title");
    assert_eq!(
        title,
        format!("# tickwire wire protocol, version {PROTOCOL_VERSION}")
    );
}

/// The variant name of a message (its `Debug` form up to the payload).
fn variant<T: std::fmt::Debug>(message: &T) -> String {
    let text = format!("{message:?}");
    text.split('(').next().unwrap_or_default().to_owned()
}

#[test]
fn the_kind_table_matches_the_enums() {
    let doc = doc();
    let mut client = BTreeMap::new();
    for (_, message) in client_messages() {
        let mut frame = Vec::new();
        codec::encode_client(&message, &mut frame).expect("encodes");
        client.insert(frame[0], variant(&message));
    }
    let mut server = BTreeMap::new();
    for (_, message) in server_messages() {
        let mut frame = Vec::new();
        codec::encode_server(&message, &mut frame).expect("encodes");
        server.insert(frame[0], variant(&message));
    }
    assert_eq!(server[&ServerMessage::UPDATE_KIND], "Update");
    assert_eq!(client.len(), server.len(), "as many kinds both ways");
    for (kind, name) in &client {
        let row = format!("| {kind} | `{name}` | `{}`", server[kind]);
        assert!(doc.contains(&row), "kind table lacks {row:?}");
    }
}

#[test]
fn the_error_code_table_matches_the_enum() {
    let doc = doc();
    let mut count = 0;
    for index in 0..=u8::MAX {
        let Ok(code) = codec::decode_value::<ErrorCode>(&[index], 1) else {
            break;
        };
        let row = format!("| {index} | `{code:?}` |");
        assert!(doc.contains(&row), "error code table lacks {row:?}");
        count += 1;
    }
    assert_eq!(count, ErrorCode::ServerDraining as usize + 1);
}

#[test]
fn the_close_reason_table_matches_the_enum() {
    let doc = doc();
    for reason in CloseReason::ALL {
        let row = format!("| {} | `{reason:?}` | {} |", reason as u8, reason.code());
        assert!(doc.contains(&row), "close reason table lacks {row:?}");
    }
}

#[test]
fn the_wire_type_rules_the_document_states_hold() {
    let malformed = |r: Result<u32, DecodeError>| matches!(r, Err(DecodeError::Malformed(_)));
    // Varints: one byte below 251, then a marker and a fixed-width value.
    assert_eq!(codec::decode_value::<u32>(&[250], 16), Ok(250));
    assert_eq!(codec::decode_value::<u32>(&[251, 0x2c, 0x01], 16), Ok(300));
    assert_eq!(
        codec::decode_value::<u32>(&[252, 0x78, 0x56, 0x34, 0x12], 16),
        Ok(0x1234_5678)
    );
    let mut out = Vec::new();
    codec::encode_value(&251u32, &mut out).unwrap();
    assert_eq!(out, [251, 251, 0], "the shortest form");
    // A marker wider than the field, and 254 and 255, are malformed.
    assert!(malformed(codec::decode_value::<u32>(
        &[253, 1, 0, 0, 0, 0, 0, 0, 0],
        16
    )));
    assert!(codec::decode_value::<u16>(&[252, 1, 0, 0, 0], 16).is_err());
    assert!(codec::decode_value::<u32>(&[254], 16).is_err());
    assert!(codec::decode_value::<u32>(&[255], 16).is_err());
    // Booleans and option tags are 0 or 1.
    assert_eq!(
        codec::decode_value::<bool>(&[2], 16),
        Err(DecodeError::Malformed("invalid boolean"))
    );
    assert!(codec::decode_value::<Option<u32>>(&[2, 0], 16).is_err());
    // Trailing bytes make a frame malformed.
    assert_eq!(
        codec::decode_value::<u32>(&[1, 2], 16),
        Err(DecodeError::TrailingBytes(1))
    );
    // The arena's input: three f32 little-endian, then a bool.
    let input = ArenaInput {
        move_x: 1.0,
        move_y: -0.5,
        aim: 0.0,
        fire: true,
    };
    let mut out = Vec::new();
    codec::encode_value(&input, &mut out).unwrap();
    let mut expected = Vec::new();
    for value in [1.0f32, -0.5, 0.0] {
        expected.extend_from_slice(&value.to_le_bytes());
    }
    expected.push(1);
    assert_eq!(out, expected);
}

#[test]
fn the_sample_update_deltas_are_what_the_document_says() {
    // update_delta: 0x07 is an empty delta (three zero counts).
    let empty = delta::apply(&SCHEMA, None, Tick(20_000), &[0b111]).expect("a valid delta");
    assert!(empty.entities().is_empty());
    // update_full: its delta bytes only exercise the frame layout.
    assert!(delta::apply(&SCHEMA, None, Tick(42), &[0b0000_0011, 0x10]).is_err());
}
