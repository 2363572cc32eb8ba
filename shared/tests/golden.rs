//! Golden vectors: every sample message as bytes on disk (hex, one file per
//! message), so that any decoder, in any language, can be checked against
//! the Rust one, and so that an accidental change to the wire format fails
//! here. Set `TICKWIRE_BLESS=1` to rewrite the files after an intended
//! change (and bump the protocol version).

use std::path::PathBuf;

use tickwire_shared::codec;
use tickwire_shared::protocol::samples::{client_messages, server_messages};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn to_hex(bytes: &[u8]) -> String {
    let mut text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    text.push('\n');
    text
}

fn from_hex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// Compares `bytes` with the named golden file (or writes it when blessing)
/// and returns the bytes on disk.
fn check(name: &str, bytes: &[u8]) -> Vec<u8> {
    let path = golden_dir().join(format!("{name}.hex"));
    if std::env::var_os("TICKWIRE_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir()).expect("golden dir");
        std::fs::write(&path, to_hex(bytes)).expect("write golden file");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with TICKWIRE_BLESS=1 to create it)",
            path.display()
        )
    });
    let expected = from_hex(&on_disk);
    assert_eq!(
        to_hex(bytes),
        to_hex(&expected),
        "{name}: wire bytes changed"
    );
    expected
}

#[test]
fn client_messages_match_their_golden_bytes() {
    for (name, msg) in client_messages() {
        let mut frame = Vec::new();
        codec::encode_client(&msg, &mut frame).expect("encodes");
        let golden = check(&format!("client_{name}"), &frame);
        assert_eq!(
            codec::decode_client(&golden, codec::MAX_CLIENT_FRAME),
            Ok(msg),
            "{name}"
        );
    }
}

#[test]
fn server_messages_match_their_golden_bytes() {
    for (name, msg) in server_messages() {
        let mut frame = Vec::new();
        codec::encode_server(&msg, &mut frame).expect("encodes");
        let golden = check(&format!("server_{name}"), &frame);
        assert_eq!(
            codec::decode_server(&golden, codec::MAX_SERVER_FRAME),
            Ok(msg),
            "{name}"
        );
    }
}
