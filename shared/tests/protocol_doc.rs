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
use tickwire_shared::protocol::samples::{self, client_messages, server_messages};
use tickwire_shared::protocol::{
    ClientMessage, CloseReason, ErrorCode, EventOutcome, Inputs, LeaveReason, PROTOCOL_VERSION,
    Role, RoomTarget, ServerMessage, Update, Visibility,
};
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
    assert_eq!(count, ErrorCode::ReservationRefused as usize + 1);
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
    // The document's examples of each form.
    let varint = |value: u64| {
        let mut out = Vec::new();
        codec::encode_value(&value, &mut out).unwrap();
        out
    };
    assert_eq!(varint(250), [0xfa]);
    assert_eq!(varint(65_535), [0xfb, 0xff, 0xff]);
    assert_eq!(varint(65_536), [0xfc, 0x00, 0x00, 0x01, 0x00]);
    assert_eq!(
        varint(1_700_000_000_000_000),
        [0xfd, 0x00, 0x40, 0x1e, 0x18, 0x24, 0x0a, 0x06, 0x00]
    );
    // 254 (a u128) in a u64 field, 253 in a u16 field, 255 anywhere.
    assert!(codec::decode_value::<u64>(&[254; 17], 32).is_err());
    assert!(codec::decode_value::<u64>(&[255; 9], 32).is_err());
    assert!(codec::decode_value::<u16>(&[253, 1, 0, 0, 0, 0, 0, 0, 0], 16).is_err());
    // A longer form than needed is accepted by the Rust decoder.
    assert_eq!(codec::decode_value::<u32>(&[251, 5, 0], 16), Ok(5));
    // A u8 is a plain byte, not a varint.
    assert_eq!(codec::decode_value::<u8>(&[251], 16), Ok(251));
    // Signed: zigzag, then the varint.
    let mut out = Vec::new();
    codec::encode_value(&(-1i32, 1i32, -2i32, 300i32, i32::MIN), &mut out).unwrap();
    assert_eq!(
        out,
        [
            0x01, 0x02, 0x03, 0xfb, 0x58, 0x02, 0xfc, 0xff, 0xff, 0xff, 0xff
        ]
    );
    // Floats: IEEE 754 little-endian.
    let mut out = Vec::new();
    codec::encode_value(&1.0f32, &mut out).unwrap();
    assert_eq!(out, [0x00, 0x00, 0x80, 0x3f]);
    // Maps: any key order is read, the last of a repeated key kept.
    type Map = BTreeMap<String, String>;
    let unordered = [2, 1, b'b', 1, b'x', 1, b'a', 1, b'y'];
    let map = codec::decode_value::<Map>(&unordered, 16).expect("a map");
    assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
    let repeated = [2, 1, b'a', 1, b'x', 1, b'a', 1, b'y'];
    let map = codec::decode_value::<Map>(&repeated, 16).expect("a map");
    assert_eq!(map.get("a").map(String::as_str), Some("y"));
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

/// A client written from `docs/protocol.md` alone, without the Rust
/// sources: the update header, the extrapolation, the delta bitstream and
/// the checksum, exactly as the document states them. If it decodes every
/// world vector to its expected world, the document is complete and exact
/// on these points.
mod from_the_doc {
    /// An entity: id, kind, 8 fields (unused ones 0).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(super) struct Entity {
        pub(super) id: u32,
        pub(super) kind: u8,
        pub(super) fields: [i32; 8],
    }

    /// Linear motion of a kind ("How a game describes its world").
    struct Motion {
        position: [usize; 2],
        velocity: [usize; 2],
        min: [i64; 2],
        max: [i64; 2],
        clamp: bool,
    }

    /// A kind: (absolute order, change order) per field, motion, lifetime.
    struct Kind {
        orders: &'static [(u32, u32)],
        motion: Motion,
        lifetime: Option<usize>,
    }

    /// The arena, from the document's table "The arena schema".
    const ARENA: [Kind; 2] = [
        Kind {
            orders: &[
                (15, 8),
                (15, 8),
                (9, 9),
                (9, 9),
                (11, 12),
                (6, 4),
                (0, 0),
                (4, 0),
            ],
            motion: Motion {
                position: [0, 1],
                velocity: [2, 3],
                min: [0, 0],
                max: [64_000, 64_000],
                clamp: true,
            },
            lifetime: None,
        },
        Kind {
            orders: &[(15, 8), (15, 8), (10, 8), (10, 8), (4, 0), (4, 2)],
            motion: Motion {
                position: [0, 1],
                velocity: [2, 3],
                min: [0, 0],
                max: [64_000, 64_000],
                clamp: false,
            },
            lifetime: Some(5),
        },
    ];

    /// What goes wrong; the document calls all of these a corrupt delta or
    /// a malformed frame.
    pub(super) type Error = String;

    /// Each code read: its bits in stream order, and what it was.
    pub(super) type Trace = Vec<(String, String)>;

    /// The checksum: FNV-1a over 32-bit words.
    pub(super) fn checksum(world: &[Entity]) -> u32 {
        let mut hash: u32 = 0x811c_9dc5;
        for e in world {
            let words = [e.id, u32::from(e.kind)]
                .into_iter()
                .chain(e.fields.iter().map(|&f| f as u32));
            for word in words {
                hash = (hash ^ word).wrapping_mul(0x0100_0193);
            }
        }
        hash
    }

    /// The baseline `n` ticks ahead.
    fn extrapolate(baseline: &[Entity], n: u32) -> Vec<Entity> {
        let n = i64::from(n);
        let mut out = Vec::new();
        'entities: for e in baseline {
            let kind = &ARENA[usize::from(e.kind)];
            let mut next = *e;
            if let Some(l) = kind.lifetime {
                let left = i64::from(e.fields[l]) - n;
                if left <= 0 {
                    continue;
                }
                next.fields[l] = left as i32;
            }
            let m = &kind.motion;
            for axis in 0..2 {
                let p = i64::from(e.fields[m.position[axis]])
                    + i64::from(e.fields[m.velocity[axis]]) * n;
                let placed = if m.clamp {
                    p.clamp(m.min[axis], m.max[axis])
                } else if p < m.min[axis] || p > m.max[axis] {
                    continue 'entities;
                } else {
                    p
                };
                next.fields[m.position[axis]] = placed as i32;
            }
            out.push(next);
        }
        out
    }

    /// The bitstream, least-significant bit of each byte first, with a
    /// record of what each code was (bits in stream order, and a note).
    pub(super) struct Bits<'a> {
        bytes: &'a [u8],
        at: usize,
        trace: Trace,
    }

    impl<'a> Bits<'a> {
        /// A reader at the first bit of `bytes`.
        pub(super) fn new(bytes: &'a [u8]) -> Self {
            Self {
                bytes,
                at: 0,
                trace: Vec::new(),
            }
        }

        /// How many bits have been read.
        pub(super) fn position(&self) -> usize {
            self.at
        }

        fn bit(&mut self) -> Result<u32, Error> {
            let byte = self.bytes.get(self.at / 8).ok_or("truncated")?;
            let bit = u32::from(byte >> (self.at % 8)) & 1;
            self.at += 1;
            Ok(bit)
        }

        fn plain(&mut self, count: u32) -> Result<(u64, String), Error> {
            let (mut value, mut text) = (0u64, String::new());
            for i in 0..count {
                let bit = self.bit()?;
                value |= u64::from(bit) << i;
                text.push(if bit == 1 { '1' } else { '0' });
            }
            Ok((value, text))
        }

        /// A plain field mask of `count` bits.
        fn mask(&mut self, count: u32, note: String) -> Result<u64, Error> {
            let (value, text) = self.plain(count)?;
            self.trace.push((text, format!("{note} = {value:#04x}")));
            Ok(value)
        }

        /// G(k).
        pub(super) fn g(&mut self, k: u32, note: &str) -> Result<u32, Error> {
            let mut prefix = String::new();
            let mut zeros = 0;
            while self.bit()? == 0 {
                zeros += 1;
                prefix.push('0');
                if zeros + k > 32 {
                    return Err("integer code longer than 32 bits".into());
                }
            }
            prefix.push('1');
            let (b, suffix) = self.plain(zeros + k)?;
            let value = ((1u64 << (zeros + k)) | b) - (1u64 << k);
            let value = u32::try_from(value).map_err(|_| "integer out of range")?;
            let bits = if suffix.is_empty() {
                prefix
            } else {
                format!("{prefix} {suffix}")
            };
            self.trace.push((bits, format!("{note}: G({k}) = {value}")));
            Ok(value)
        }

        /// S(k).
        pub(super) fn s(&mut self, k: u32, note: &str) -> Result<i32, Error> {
            let u = self.g(k, note)?;
            let value = ((u >> 1) as i32) ^ -((u & 1) as i32);
            if let Some(last) = self.trace.last_mut() {
                last.1 = format!("{note}: S({k}), G({k}) = {u}, unzigzagged {value}");
            }
            Ok(value)
        }

        fn finish(&mut self) -> Result<(), Error> {
            let mut padding = String::new();
            while !self.at.is_multiple_of(8) {
                if self.bit()? != 0 {
                    return Err("non-zero padding".into());
                }
                padding.push('0');
            }
            if !padding.is_empty() {
                self.trace.push((padding, "padding".into()));
            }
            if self.at / 8 != self.bytes.len() {
                return Err("bytes after the delta".into());
            }
            Ok(())
        }
    }

    /// Applies a delta to a baseline `age` ticks old (`None`: full
    /// snapshot), returning the world and the trace of the bitstream.
    pub(super) fn apply(
        baseline: Option<&[Entity]>,
        age: u32,
        delta: &[u8],
    ) -> Result<(Vec<Entity>, Trace), Error> {
        let predicted = baseline.map_or_else(Vec::new, |b| extrapolate(b, age));
        let mut r = Bits::new(delta);
        let mut world: Vec<Option<Entity>> = predicted.iter().copied().map(Some).collect();

        let count = r.g(0, "changed count")?;
        let mut next = 0u64;
        let mut changed = Vec::new();
        for _ in 0..count {
            let index = next + u64::from(r.g(2, "  index gap")?);
            let slot = usize::try_from(index).map_err(|_| "index")?;
            let mut e = *predicted.get(slot).ok_or("changed index out of range")?;
            let kind = &ARENA[usize::from(e.kind)];
            let mask = r.mask(
                kind.orders.len() as u32,
                format!("  entity {} (index {index}) field mask", e.id),
            )?;
            if mask == 0 {
                return Err("empty mask".into());
            }
            for (i, &(_, change)) in kind.orders.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    let residual = r.s(change, &format!("    field {i} residual"))?;
                    e.fields[i] = e.fields[i].wrapping_add(residual);
                }
            }
            world[slot] = Some(e);
            changed.push(slot);
            next = index + 1;
        }

        let count = r.g(0, "removed count")?;
        let mut next = 0u64;
        for _ in 0..count {
            let index = next + u64::from(r.g(2, "  index gap")?);
            let slot = usize::try_from(index).map_err(|_| "index")?;
            if slot >= predicted.len() || changed.contains(&slot) {
                return Err("bad removed index".into());
            }
            world[slot] = None;
            next = index + 1;
        }

        let count = r.g(0, "created count")?;
        let mut previous: Option<u32> = None;
        let mut created = Vec::new();
        for _ in 0..count {
            let id = match previous {
                None => {
                    let base = predicted.last().map_or(0, |e| e.id.wrapping_add(1));
                    base.wrapping_add(r.s(0, "  first id - (largest predicted id + 1)")? as u32)
                }
                Some(p) => p
                    .checked_add(1)
                    .and_then(|n| n.checked_add(r.g(0, "  id - previous id - 1").ok()?))
                    .ok_or("created id overflows")?,
            };
            previous = Some(id);
            let kind_index = r.g(0, &format!("  id {id}: kind"))?;
            let kind = ARENA
                .get(kind_index as usize)
                .ok_or("kind not in the schema")?;
            let mut fields = [0; 8];
            for (i, &(absolute, _)) in kind.orders.iter().enumerate() {
                fields[i] = r.s(absolute, &format!("    field {i}"))?;
            }
            created.push(Entity {
                id,
                kind: kind_index as u8,
                fields,
            });
        }
        r.finish()?;

        let mut out: Vec<Entity> = world.into_iter().flatten().collect();
        for c in created {
            if out.iter().any(|e| e.id == c.id) {
                return Err("created id exists".into());
            }
            out.push(c);
        }
        out.sort_by_key(|e| e.id);
        Ok((out, r.trace))
    }

    /// An `Update` frame's header: kind 12, LEB128 tick, age, lateness,
    /// checksum u32 LE; the delta is the rest.
    pub(super) fn update(frame: &[u8]) -> Result<(u32, u32, u32, u32, &[u8]), Error> {
        let mut at = 1;
        if frame.first() != Some(&12) {
            return Err("not an update".into());
        }
        let mut leb = || -> Result<u32, Error> {
            let mut value = 0u64;
            for shift in (0..35).step_by(7) {
                let byte = *frame.get(at).ok_or("truncated")?;
                at += 1;
                value |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    if shift > 0 && byte == 0 {
                        return Err("overlong".into());
                    }
                    return u32::try_from(value).map_err(|_| "too large".into());
                }
            }
            Err("longer than 5 bytes".into())
        };
        let (tick, age, lateness) = (leb()?, leb()?, leb()?);
        let checksum = frame.get(at..at + 4).ok_or("truncated")?;
        let checksum = u32::from_le_bytes(checksum.try_into().map_err(|_| "checksum")?);
        if age > tick {
            return Err("baseline before tick 0".into());
        }
        Ok((tick, age, lateness, checksum, &frame[at + 4..]))
    }
}

fn entities_from_json(value: &serde_json::Value) -> Vec<from_the_doc::Entity> {
    value["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .map(|e| {
            let mut fields = [0i32; 8];
            for (slot, f) in fields
                .iter_mut()
                .zip(e["fields"].as_array().expect("fields"))
            {
                *slot = i32::try_from(f.as_i64().expect("an integer")).expect("an i32");
            }
            from_the_doc::Entity {
                id: u32::try_from(e["id"].as_u64().expect("an id")).expect("a u32"),
                kind: u8::try_from(e["kind"].as_u64().expect("a kind")).expect("a u8"),
                fields,
            }
        })
        .collect()
}

fn world_vector_files() -> BTreeMap<String, serde_json::Value> {
    std::fs::read_dir(golden_dir().join("worlds"))
        .expect("the world vectors")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("a world vector");
            (name, serde_json::from_str(&text).expect("JSON"))
        })
        .collect()
}

#[test]
fn a_client_written_from_the_document_decodes_every_world_vector() {
    let files = world_vector_files();
    assert!(files.len() >= 20, "the world vectors are there");
    for (name, vector) in files {
        let hex = vector["update_hex"].as_str().expect("update_hex");
        let frame = parse_hex(std::iter::once(hex), &name);
        let (tick, age, _, checksum, delta) =
            from_the_doc::update(&frame).unwrap_or_else(|e| panic!("{name}: {e}"));
        let baseline = match &vector["baseline"] {
            serde_json::Value::Null => {
                assert_eq!(age, 0, "{name}: no baseline, a full snapshot");
                None
            }
            base => {
                assert_eq!(base["tick"].as_u64(), Some(u64::from(tick - age)), "{name}");
                Some(entities_from_json(base))
            }
        };
        let (world, _) = from_the_doc::apply(baseline.as_deref(), age, delta)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = &vector["expected"];
        assert_eq!(expected["tick"].as_u64(), Some(u64::from(tick)), "{name}");
        assert_eq!(world, entities_from_json(expected), "{name}: the world");
        assert_eq!(from_the_doc::checksum(&world), checksum, "{name}: checksum");
        assert_eq!(
            expected["checksum"].as_u64(),
            Some(u64::from(checksum)),
            "{name}"
        );
    }
}

/// The fenced blocks of the document whose first line is `first`: their
/// other lines.
fn blocks_titled<'a>(doc: &'a str, first: &str) -> Vec<Vec<&'a str>> {
    let mut found = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if !line.starts_with("```") {
            continue;
        }
        let Some(title) = lines.next() else { break };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        if title.trim() == first {
            found.push(body);
        }
    }
    found
}

/// The bytes of the one listing titled `first` (hex bytes, two spaces,
/// annotation, as the golden listings).
fn example_bytes(doc: &str, first: &str) -> Vec<u8> {
    let blocks = blocks_titled(doc, first);
    assert_eq!(
        blocks.len(),
        1,
        "docs/protocol.md has one {first:?} listing"
    );
    let mut bytes = Vec::new();
    for line in &blocks[0] {
        let hex = line.split("  ").next().unwrap_or("");
        bytes.extend(parse_hex(hex.split_whitespace(), first));
    }
    bytes
}

#[test]
fn the_game_input_examples_are_the_codec_s_bytes() {
    let doc = doc();
    let input = ArenaInput {
        move_x: 1.0,
        move_y: -0.5,
        aim: std::f32::consts::FRAC_PI_2,
        fire: true,
    };
    assert_eq!(std::f32::consts::FRAC_PI_2, 1.570_796_4);
    let mut encoded = Vec::new();
    codec::encode_value(&input, &mut encoded).expect("encodes");
    assert_eq!(example_bytes(&doc, "example/arena_input"), encoded);
    let frame = ClientMessage::Inputs(Inputs {
        newest_seq: 1,
        inputs: vec![encoded],
        ack: Some(Tick(41)),
    });
    let mut bytes = Vec::new();
    codec::encode_client(&frame, &mut bytes).expect("encodes");
    assert_eq!(example_bytes(&doc, "example/arena_inputs_frame"), bytes);
}

#[test]
fn the_sample_updates_carry_real_worlds() {
    let updates: BTreeMap<&str, Update> = server_messages()
        .into_iter()
        .filter_map(|(name, m)| match m {
            ServerMessage::Update(u) => Some((name, u)),
            _ => None,
        })
        .collect();
    let full = &updates["update_full"];
    let world = samples::update_full_world();
    assert!(world.len() >= 2, "the full snapshot carries entities");
    assert_eq!(full.baseline, None);
    assert_eq!(full.checksum, world.checksum(), "its true checksum");
    assert_eq!(
        delta::apply(&SCHEMA, None, full.tick, &full.delta).as_ref(),
        Ok(&world)
    );
    let step = &updates["update_delta"];
    let (base, world) = (
        samples::update_delta_baseline(),
        samples::update_delta_world(),
    );
    assert_eq!(step.baseline, Some(base.tick));
    assert_eq!(step.checksum, world.checksum(), "its true checksum");
    assert_eq!(
        delta::apply(&SCHEMA, Some(&base), step.tick, &step.delta).as_ref(),
        Ok(&world)
    );
}

#[test]
fn the_delta_walkthroughs_are_the_sample_deltas_code_by_code() {
    let doc = doc();
    let vectors = world_vector_files();
    let golden = golden_files();
    for name in ["update_full", "update_delta"] {
        let title = format!("delta bits of golden/server_{name}.hex");
        let blocks = blocks_titled(&doc, &title);
        assert_eq!(blocks.len(), 1, "docs/protocol.md has one {title:?}");
        let listed: Vec<String> = blocks[0]
            .iter()
            .map(|line| line.split("  ").next().unwrap_or("").trim().to_owned())
            .filter(|bits| !bits.is_empty())
            .collect();
        for bits in &listed {
            assert!(
                bits.chars().all(|c| c == '0' || c == '1' || c == ' '),
                "{title}: {bits:?} is not bits"
            );
        }

        let vector = &vectors[&format!("sample_{name}")];
        let frame = &golden[&format!("server_{name}")];
        let hex = vector["update_hex"].as_str().expect("update_hex");
        assert_eq!(
            &parse_hex(std::iter::once(hex), name),
            frame,
            "sample_{name}.json carries the golden frame"
        );
        let (_, age, _, _, delta) = from_the_doc::update(frame).expect("an update");
        let baseline = match &vector["baseline"] {
            serde_json::Value::Null => None,
            base => Some(entities_from_json(base)),
        };
        let (_, trace) = from_the_doc::apply(baseline.as_deref(), age, delta).expect("applies");
        let codes: Vec<&str> = trace.iter().map(|(bits, _)| bits.as_str()).collect();
        assert_eq!(listed, codes, "{title}: one line per code, in stream order");
        let stream: String = (0..delta.len() * 8)
            .map(|j| {
                if delta[j / 8] >> (j % 8) & 1 == 1 {
                    '1'
                } else {
                    '0'
                }
            })
            .collect();
        assert_eq!(listed.concat().replace(' ', ""), stream, "{title}");
    }
}

#[test]
fn the_code_examples_decode_as_the_document_says() {
    let doc = doc();
    let mut checked = 0;
    for line in doc.lines() {
        // | `G(k)` | value ... | `bits` |
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, code, value, bits, _] = cells[..] else {
            continue;
        };
        let (Some(signed), Some(k)) = (
            code.strip_prefix("`G(")
                .map(|_| false)
                .or(code.strip_prefix("`S(").map(|_| true)),
            code.get(3..code.len().saturating_sub(2))
                .and_then(|k| k.parse::<u32>().ok()),
        ) else {
            continue;
        };
        let value: i64 = value
            .split(" (")
            .next()
            .unwrap_or("")
            .replace(' ', "")
            .parse()
            .unwrap_or_else(|_| panic!("{line}: a value"));
        let bits: String = bits.trim_matches('`').replace(' ', "");
        let mut bytes = vec![0u8; bits.len().div_ceil(8)];
        for (j, bit) in bits.chars().enumerate() {
            if bit == '1' {
                bytes[j / 8] |= 1 << (j % 8);
            }
        }
        let mut reader = from_the_doc::Bits::new(&bytes);
        let read = if signed {
            reader.s(k, "example").map(i64::from)
        } else {
            reader.g(k, "example").map(i64::from)
        };
        assert_eq!(read, Ok(value), "{line}");
        assert_eq!(
            reader.position(),
            bits.len(),
            "{line}: the code is all its bits"
        );
        checked += 1;
    }
    assert!(checked >= 10, "{checked} code examples checked");
}

#[test]
fn the_arena_schema_tables_match_the_schema() {
    let doc = doc();
    for (index, kind) in SCHEMA.kinds.iter().enumerate() {
        for (i, field) in kind.fields.iter().enumerate() {
            let row = format!(
                "| {index} {} | {i} | `{}` | {} | {} |",
                kind.name, field.name, field.absolute_order, field.change_order
            );
            assert!(doc.contains(&row), "arena field table lacks {row:?}");
        }
        let motion = kind.motion.expect("arena kinds move");
        let lifetime = kind.lifetime.map_or("none".to_owned(), |l| l.to_string());
        let row = format!(
            "| {index} {} | {}, {} | {}, {} | {}..={}, {}..={} | `{:?}` | {lifetime} |",
            kind.name,
            motion.position[0],
            motion.position[1],
            motion.velocity[0],
            motion.velocity[1],
            motion.min[0],
            motion.max[0],
            motion.min[1],
            motion.max[1],
            motion.boundary,
        );
        assert!(doc.contains(&row), "arena rules table lacks {row:?}");
    }
}

/// Every value of a unit-variant enum, by index, until one does not decode.
fn unit_variants<T: serde::de::DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
    (0..=u8::MAX)
        .map_while(|i| codec::decode_value::<T>(&[i], 1).ok())
        .map(|v| format!("{v:?}"))
        .collect()
}

#[test]
fn the_small_enum_tables_match_the_enums() {
    let doc = doc();
    let tables: [(&str, Vec<String>); 3] = [
        ("Visibility", unit_variants::<Visibility>()),
        ("Role", unit_variants::<Role>()),
        ("LeaveReason", unit_variants::<LeaveReason>()),
    ];
    for (name, variants) in tables {
        assert!(variants.len() >= 2, "{name}");
        for (index, variant) in variants.iter().enumerate() {
            let row = format!("| {index} | `{variant}` |");
            assert!(doc.contains(&row), "{name} table lacks {row:?}");
        }
    }
    // Enums with fields: the index decides the variant.
    let target = codec::decode_value::<RoomTarget>(&[1, b'2', b'2', b'6', b'6', b'G', b'G'], 16);
    assert!(matches!(target, Ok(RoomTarget::Code(_))));
    assert!(doc.contains("| 0 | `Id` | `RoomId` |"));
    assert!(doc.contains("| 1 | `Code` | `RoomCode` |"));
    let outcome = codec::decode_value::<EventOutcome>(&[1, 10, 0], 16);
    assert!(matches!(
        outcome,
        Ok(EventOutcome::Error {
            code: ErrorCode::RateLimited,
            ..
        })
    ));
    assert!(doc.contains("| 0 | `Data` | `bytes` |"));
    assert!(doc.contains("| 1 | `Error` | `code: ErrorCode`, `message: string` |"));
}

#[test]
fn every_world_vector_is_listed() {
    let doc = doc();
    for name in world_vector_files().keys() {
        assert!(
            doc.contains(&format!("| `{name}.json` |")),
            "docs/protocol.md does not list worlds/{name}.json"
        );
    }
}
