//! Sequence fields whose decoding preallocates at most [`PREALLOC_BYTES`],
//! whatever length the frame claims. serde's own `Vec` preallocates up to
//! 1 MiB from the claimed length before reading an element, so a 21-byte
//! frame claiming a huge byte string cost a 1 MiB allocation (found by the
//! fuzz campaign, `shared/tests/fuzz.rs`). The wire format is unchanged:
//! only deserialisation is replaced, and the vector grows as elements
//! actually arrive.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

/// Most bytes a sequence preallocates before its elements arrive.
const PREALLOC_BYTES: usize = 4096;

fn capacity<T>(hint: Option<usize>) -> usize {
    hint.unwrap_or(0)
        .min(PREALLOC_BYTES / size_of::<T>().max(1))
}

struct CappedVec<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for CappedVec<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(capacity::<T>(seq.size_hint()));
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        Ok(out)
    }
}

/// `deserialize_with` for any `Vec<T>` field.
pub(crate) fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    deserializer.deserialize_seq(CappedVec(PhantomData))
}

/// One byte string inside [`vec_of_bytes`].
struct Bytes(Vec<u8>);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        vec(deserializer).map(Bytes)
    }
}

/// `deserialize_with` for a `Vec<Vec<u8>>` field: both levels capped.
pub(crate) fn vec_of_bytes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Vec<u8>>, D::Error> {
    let list: Vec<Bytes> = vec(deserializer)?;
    Ok(list.into_iter().map(|b| b.0).collect())
}
