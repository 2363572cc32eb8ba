//! What the fuzz campaigns share: settings from the environment, replay,
//! and the report line.
//! Included by `shared/tests/fuzz.rs` and `server/src/testing/fuzz.rs`.

use std::cell::Cell;
use std::sync::Once;
use std::time::Instant;

use tickwire_shared::fuzz::{Campaign, Outcome, unhex};

/// The seed when `TICKWIRE_FUZZ_SEED` is unset: runs are reproducible.
const DEFAULT_SEED: u64 = 0x71c_3e13;

/// The campaign the environment asks for: `TICKWIRE_FUZZ_CASES` (cases per
/// target, else `default_cases`: a few seconds in a debug build, for CI),
/// `TICKWIRE_FUZZ_SEED` (decimal or 0x-hex).
pub(crate) fn campaign(default_cases: u64, max_len: usize) -> Campaign {
    let cases = std::env::var("TICKWIRE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default_cases);
    let seed = std::env::var("TICKWIRE_FUZZ_SEED")
        .ok()
        .and_then(|v| match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        })
        .unwrap_or(DEFAULT_SEED);
    Campaign {
        cases,
        seed,
        max_len,
    }
}

/// Runs one target: the corpus and the campaign from the environment, or
/// only the input in `TICKWIRE_FUZZ_REPLAY` (hex) when set. The target
/// says whether it accepted the input (it decoded, applied, reached a
/// room): the share accepted shows the mutations reach past the first
/// check. Prints the summary and fails the test on a crash, with the
/// input in hex.
pub(crate) fn run(
    name: &'static str,
    default_cases: u64,
    max_len: usize,
    corpus: Vec<Vec<u8>>,
    mut target: impl FnMut(&[u8]) -> bool,
) {
    let mut campaign = campaign(default_cases, max_len);
    let corpus = match std::env::var("TICKWIRE_FUZZ_REPLAY") {
        Ok(hex) => {
            campaign.cases = 1;
            vec![unhex(&hex).expect("TICKWIRE_FUZZ_REPLAY is hex")]
        }
        Err(_) => corpus,
    };
    quiet_panics();
    QUIET.with(|q| q.set(true));
    let start = Instant::now();
    let mut accepted = 0u64;
    let outcome: Outcome = campaign.run(
        name,
        &corpus,
        || start.elapsed().as_secs_f64(),
        |input| accepted += u64::from(target(input)),
    );
    QUIET.with(|q| q.set(false));
    println!(
        "{} ({accepted} accepted, seed {:#x})",
        outcome.summary(),
        campaign.seed
    );
    assert!(outcome.failure.is_none(), "{}", outcome.summary());
}

thread_local! {
    /// Set while this thread runs a campaign: its panics are caught and
    /// reported once, shrunk, instead of printed at every attempt.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once) a panic hook that stays silent on campaign threads and
/// defers to the previous hook elsewhere.
fn quiet_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
}
