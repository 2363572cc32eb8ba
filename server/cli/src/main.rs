//! `tickwire-server`: a tickwire server hosting the built-in games, the
//! arena (the default) and chat. The command line is the
//! [`tickwire_server_cli::Launcher`]'s.

use anyhow::Context;
use tickwire_server_cli::Launcher;
use tickwire_shared::arena::{Arena, ArenaConfig};
use tickwire_shared::chat::Chat;
use tickwire_shared::tick::TickRate;

fn main() -> anyhow::Result<()> {
    let launcher = Launcher::from_args();
    let mut arena = ArenaConfig::default();
    if let Some(hz) = launcher.flags().tick_rate {
        arena.tick_rate = TickRate::new(hz).context("--tick-rate must be 1..=240")?;
    }
    arena.validate()?;
    launcher.game::<Arena>(arena).game::<Chat>(()).run()
}
