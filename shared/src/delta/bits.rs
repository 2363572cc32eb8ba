//! Bit-level writer and reader with exponential-Golomb integer codes.
//!
//! Bits are packed least-significant first. A value `n` coded with order `k`
//! costs `2 * floor(log2(n / 2^k + 1)) + k + 1` bits, so small numbers cost a
//! few bits and any `u32` still fits; the order is a per-field hint of the
//! typical magnitude. Signed numbers go through the zigzag map first.

use super::DeltaError;

/// Appends bits to a byte buffer; [`BitWriter::finish`] flushes the last
/// partial byte (zero-padded).
#[derive(Debug)]
pub(crate) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    pending: u32,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Self {
            out,
            acc: 0,
            pending: 0,
        }
    }

    /// Writes the low `count` bits of `value` (`count <= 56`).
    pub(crate) fn bits(&mut self, value: u64, count: u32) {
        debug_assert!(count <= 56);
        if count == 0 {
            return;
        }
        let masked = value & (u64::MAX >> (64 - count));
        self.acc |= masked << self.pending;
        self.pending += count;
        while self.pending >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.pending -= 8;
        }
    }

    /// Writes `n` as an exponential-Golomb code of order `k` (`k <= 24`).
    pub(crate) fn golomb(&mut self, n: u32, k: u32) {
        let v = u64::from(n) + (1u64 << k);
        let len = 64 - v.leading_zeros(); // bit length, >= k + 1
        let zeros = len - k - 1;
        // `zeros` zero bits, then a one bit: the unary length prefix.
        self.bits(1u64 << zeros, zeros + 1);
        let body = len - 1;
        if body > 28 {
            self.bits(v, 28);
            self.bits(v >> 28, body - 28);
        } else {
            self.bits(v, body);
        }
    }

    /// Writes a signed value, zigzag-mapped, as [`BitWriter::golomb`].
    pub(crate) fn signed(&mut self, value: i32, k: u32) {
        self.golomb(zigzag(value), k);
    }

    /// Flushes the last partial byte.
    pub(crate) fn finish(self) {
        if self.pending > 0 {
            self.out.push(self.acc as u8);
        }
    }
}

/// Reads what [`BitWriter`] wrote; every read is bounds-checked.
#[derive(Debug)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    acc: u64,
    available: u32,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            acc: 0,
            available: 0,
        }
    }

    fn refill(&mut self) {
        while self.available <= 56 {
            let Some((&byte, rest)) = self.bytes.split_first() else {
                break;
            };
            self.acc |= u64::from(byte) << self.available;
            self.available += 8;
            self.bytes = rest;
        }
    }

    /// Reads `count` bits (`count <= 56`).
    pub(crate) fn bits(&mut self, count: u32) -> Result<u64, DeltaError> {
        debug_assert!(count <= 56);
        if count == 0 {
            return Ok(0);
        }
        if self.available < count {
            self.refill();
            if self.available < count {
                return Err(DeltaError::Truncated);
            }
        }
        let value = self.acc & (u64::MAX >> (64 - count));
        self.acc >>= count;
        self.available -= count;
        Ok(value)
    }

    /// Reads an exponential-Golomb code of order `k`.
    pub(crate) fn golomb(&mut self, k: u32) -> Result<u32, DeltaError> {
        self.refill();
        if self.acc == 0 || self.available == 0 {
            return Err(DeltaError::Truncated);
        }
        let zeros = self.acc.trailing_zeros();
        if zeros >= self.available {
            return Err(DeltaError::Truncated);
        }
        // A valid u32 code has at most 32 - k zeros; more is corruption.
        if zeros + k > 32 {
            return Err(DeltaError::Corrupt("integer code longer than 32 bits"));
        }
        self.bits(zeros + 1)?;
        let body_len = zeros + k;
        let body = if body_len > 28 {
            let low = self.bits(28)?;
            low | (self.bits(body_len - 28)? << 28)
        } else {
            self.bits(body_len)?
        };
        let v = (1u64 << body_len) | body;
        u32::try_from(v - (1u64 << k)).map_err(|_| DeltaError::Corrupt("integer out of range"))
    }

    /// Reads a signed value written by [`BitWriter::signed`].
    pub(crate) fn signed(&mut self, k: u32) -> Result<i32, DeltaError> {
        self.golomb(k).map(unzigzag)
    }

    /// Checks that only the zero padding of the last byte is left.
    pub(crate) fn finish(self) -> Result<(), DeltaError> {
        if !self.bytes.is_empty() || self.available >= 8 {
            return Err(DeltaError::TrailingBytes);
        }
        if self.acc != 0 {
            return Err(DeltaError::Corrupt("non-zero padding bits"));
        }
        Ok(())
    }
}

/// Maps signed to unsigned so that small magnitudes stay small: 0, -1, 1, -2, ...
pub(crate) fn zigzag(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

/// Inverse of [`zigzag`].
pub(crate) fn unzigzag(value: u32) -> i32 {
    ((value >> 1) as i32) ^ -((value & 1) as i32)
}

/// Bits that [`BitWriter::golomb`] spends on `n` with order `k`.
#[cfg(test)]
pub(crate) fn golomb_len(n: u32, k: u32) -> u32 {
    let v = u64::from(n) + (1u64 << k);
    let len = 64 - v.leading_zeros();
    2 * (len - k - 1) + k + 1
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn zigzag_orders_by_magnitude() {
        let mapped: Vec<u32> = [0, -1, 1, -2, 2].into_iter().map(zigzag).collect();
        assert_eq!(mapped, [0, 1, 2, 3, 4]);
        for v in [i32::MIN, i32::MAX, 0, -7, 12345] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn golomb_costs_match_the_formula() {
        let mut buf = Vec::new();
        let mut w = BitWriter::new(&mut buf);
        w.golomb(0, 0);
        w.finish();
        assert_eq!(buf, [0b1], "0 with k=0 is a single one bit");
        assert_eq!(golomb_len(0, 0), 1);
        assert_eq!(golomb_len(1, 0), 3);
        assert_eq!(golomb_len(u32::MAX, 0), 65);
        assert_eq!(golomb_len(0, 4), 5);
    }

    #[test]
    fn empty_input_is_truncated_not_a_panic() {
        let mut r = BitReader::new(&[]);
        assert_eq!(r.golomb(3), Err(DeltaError::Truncated));
        let mut r = BitReader::new(&[0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(r.golomb(0).is_err());
    }

    proptest! {
        #[test]
        fn any_sequence_round_trips(values in proptest::collection::vec((any::<u32>(), 0u32..=24, any::<i32>(), 1u32..=56), 0..64)) {
            let mut buf = Vec::new();
            let mut w = BitWriter::new(&mut buf);
            for &(n, k, s, width) in &values {
                w.golomb(n, k);
                w.signed(s, k);
                w.bits(u64::from(n), width.min(32));
            }
            w.finish();
            let mut r = BitReader::new(&buf);
            for &(n, k, s, width) in &values {
                prop_assert_eq!(r.golomb(k)?, n);
                prop_assert_eq!(r.signed(k)?, s);
                let w = width.min(32);
                prop_assert_eq!(r.bits(w)?, u64::from(n) & (u64::MAX >> (64 - w)));
            }
            prop_assert!(r.finish().is_ok());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), k in 0u32..=24) {
            let mut r = BitReader::new(&bytes);
            for _ in 0..64 {
                if r.golomb(k).is_err() {
                    break;
                }
            }
        }
    }
}
