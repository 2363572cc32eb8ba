//! A stable fuzz engine: seeded byte mutation and a bounded campaign
//! runner, for the decoder campaigns in `shared/tests/fuzz.rs` and the
//! server's session campaign. cargo-fuzz needs a nightly toolchain; this
//! runs on stable, in `cargo test`.
//!
//! A target is a function from bytes to `()` that panics when a property
//! breaks (a decoder panicking is itself a break). [`Campaign::run`] feeds
//! it arbitrary bytes and mutations of a seed corpus, catches panics, and on
//! the first failure shrinks the input and reports it in hex with the seed
//! and case number that reproduce it.
//!
//! Why not proptest: its runner builds and keeps a value tree per case for
//! shrinking, which costs more than decoding a 20-byte frame; this loop
//! reuses one buffer, runs millions of cases a second against the codec,
//! and shrinks only the one failing input (by deleting ranges).
//!
//! Pure: no clock or environment; the caller passes the case count and seed
//! (the tests read them from `TICKWIRE_FUZZ_CASES` / `TICKWIRE_FUZZ_SEED`).

use std::panic::{AssertUnwindSafe, catch_unwind};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Byte values that sit on encoding boundaries: bincode's varint markers
/// (251..=253 announce a u16/u32/u64), LEB128 continuation, sign bits.
const INTERESTING: [u8; 12] = [0, 1, 0x7f, 0x80, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff, 12, 13];

/// Seeded mutations of byte strings.
#[derive(Debug)]
pub struct Mutator {
    rng: ChaCha8Rng,
}

impl Mutator {
    /// A mutator whose choices are fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A uniform index below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// Replaces `out` with up to `max_len` arbitrary bytes (short lengths
    /// favoured: most frames are short).
    pub fn arbitrary(&mut self, max_len: usize, out: &mut Vec<u8>) {
        out.clear();
        let cap = if self.chance(0.8) {
            max_len.min(32)
        } else {
            max_len
        };
        let len = self.below(cap + 1);
        out.extend((0..len).map(|_| self.rng.random::<u8>()));
    }

    /// Replaces `out` with `seed` mutated 1 to 4 times: bit flips, boundary
    /// bytes, truncation, insertion, deletion, duplication, length-field
    /// inflation (a bincode varint or LEB128 integer claiming far more than
    /// the frame holds) and splices with another corpus entry.
    pub fn mutate(&mut self, seed: &[u8], corpus: &[Vec<u8>], max_len: usize, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(seed);
        let rounds = 1 + self.below(4);
        for _ in 0..rounds {
            self.mutate_once(corpus, out);
        }
        out.truncate(max_len);
    }

    fn mutate_once(&mut self, corpus: &[Vec<u8>], out: &mut Vec<u8>) {
        if out.is_empty() {
            out.push(self.rng.random());
            return;
        }
        let at = self.below(out.len());
        match self.below(9) {
            0 => out[at] ^= 1 << self.below(8),
            1 => out[at] = INTERESTING[self.below(INTERESTING.len())],
            2 => out[at] = self.rng.random(),
            3 => out.truncate(at),
            4 => {
                let n = 1 + self.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| self.rng.random()).collect();
                out.splice(at..at, bytes);
            }
            5 => {
                let end = (at + 1 + self.below(8)).min(out.len());
                out.drain(at..end);
            }
            6 => {
                let end = (at + 1 + self.below(16)).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            7 => {
                let inflated: &[u8] = match self.below(4) {
                    0 => &[0xfb, 0xff, 0xff],
                    1 => &[0xfc, 0xff, 0xff, 0xff, 0x7f],
                    2 => &[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                    _ => &[0xff, 0xff, 0xff, 0xff, 0x0f],
                };
                let end = (at + 1).min(out.len());
                out.splice(at..end, inflated.iter().copied());
            }
            _ => {
                let other = &corpus[self.below(corpus.len())];
                if other.is_empty() {
                    return;
                }
                let from = self.below(other.len());
                let to = from + 1 + self.below(other.len() - from);
                out.truncate(at);
                out.extend_from_slice(&other[from..to]);
            }
        }
    }
}

/// How long and from where a campaign runs.
#[derive(Clone, Copy, Debug)]
pub struct Campaign {
    /// Cases per target.
    pub cases: u64,
    /// The seed of the first target's mutator; each target adds a constant
    /// of its own, so targets are independent.
    pub seed: u64,
    /// Longest input generated.
    pub max_len: usize,
}

/// What one target's campaign did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The target's name.
    pub target: &'static str,
    /// Cases run.
    pub cases: u64,
    /// Wall time, seconds (measured by the caller's clock via `elapsed`).
    pub elapsed_s: f64,
    /// The first failing input, shrunk, with its panic message.
    pub failure: Option<(Vec<u8>, String)>,
}

impl Campaign {
    /// Runs `target` on `self.cases` inputs: a quarter arbitrary bytes, the
    /// rest mutations of `corpus` entries (the corpus as given included).
    /// Stops at the first failure. `clock` returns seconds since any fixed
    /// point (the caller's `Instant`; this module reads no clock).
    pub fn run(
        &self,
        name: &'static str,
        corpus: &[Vec<u8>],
        mut clock: impl FnMut() -> f64,
        mut target: impl FnMut(&[u8]),
    ) -> Outcome {
        let start = clock();
        let seed = self.seed ^ fnv(name);
        let mut mutator = Mutator::new(seed);
        let mut input = Vec::with_capacity(self.max_len);
        let mut cases = 0;
        for case in 0..self.cases {
            let i = case as usize;
            if i < corpus.len() {
                input.clear();
                input.extend_from_slice(&corpus[i]);
            } else if corpus.is_empty() || mutator.below(4) == 0 {
                mutator.arbitrary(self.max_len, &mut input);
            } else {
                let seed_input = &corpus[mutator.below(corpus.len())];
                mutator.mutate(seed_input, corpus, self.max_len, &mut input);
            }
            cases += 1;
            if let Err(message) = attempt(&mut target, &input) {
                let shrunk = shrink(&mut target, input.clone());
                let message = attempt(&mut target, &shrunk).err().unwrap_or(message);
                return Outcome {
                    target: name,
                    cases,
                    elapsed_s: clock() - start,
                    failure: Some((shrunk, format!("{message} (seed {seed:#x}, case {case})"))),
                };
            }
        }
        Outcome {
            target: name,
            cases,
            elapsed_s: clock() - start,
            failure: None,
        }
    }
}

impl Outcome {
    /// One line for the campaign's log: cases, time, rate, and the failure.
    pub fn summary(&self) -> String {
        let rate = self.cases as f64 / self.elapsed_s.max(1e-9);
        let mut line = format!(
            "fuzz {:<22} {:>11} cases {:>8.2} s {:>11.0} cases/s",
            self.target, self.cases, self.elapsed_s, rate
        );
        match &self.failure {
            None => line.push_str("  0 crashes"),
            Some((input, message)) => {
                line.push_str(&format!(
                    "  CRASH: {message}\n  input (hex): {}",
                    hex(input)
                ));
            }
        }
        line
    }
}

fn attempt(target: &mut impl FnMut(&[u8]), input: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| target(input))).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panic".to_owned())
    })
}

/// Deletes ever smaller ranges while the input still fails.
fn shrink(target: &mut impl FnMut(&[u8]), mut input: Vec<u8>) -> Vec<u8> {
    let mut chunk = input.len().max(1);
    while chunk > 0 {
        let mut at = 0;
        while at < input.len() {
            let end = (at + chunk).min(input.len());
            let mut candidate = input.clone();
            candidate.drain(at..end);
            if attempt(target, &candidate).is_err() {
                input = candidate;
            } else {
                at += chunk;
            }
        }
        chunk /= 2;
    }
    input
}

/// Lower-case hex, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses [`hex`]'s output (for replaying a reported input).
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn fnv(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_target_is_reported_shrunk() {
        let campaign = Campaign {
            cases: 10_000,
            seed: 1,
            max_len: 64,
        };
        let corpus = vec![b"abcdef".to_vec()];
        let outcome = campaign.run(
            "finds_zz",
            &corpus,
            || 0.0,
            |b| assert!(!b.contains(&0xff), "found"),
        );
        let (input, message) = outcome.failure.expect("found");
        assert_eq!(input, vec![0xff], "shrunk to the one byte that matters");
        assert!(message.contains("found"));
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(unhex(&hex(&[0, 0xab, 0xff])), Some(vec![0, 0xab, 0xff]));
    }
}
