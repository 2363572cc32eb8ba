//! Keeps the root package buildable until the end-to-end suites land.
#[test]
fn shared_crate_links() {
    assert_eq!(tickwire_shared::tick::TickRate::ARENA.hz(), 30);
}
