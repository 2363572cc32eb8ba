//! `tickwire-bot` (being written).
fn main() {}
