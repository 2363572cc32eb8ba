//! The process-level shutdown signals (shell): SIGINT (Ctrl-C) or SIGTERM.
//! The first starts a drain, a second one stops at once (see
//! [`crate::Server::run_with`]).
//!
//! Handlers are installed by [`Signals::install`], synchronously, before the
//! server binds: a signal that arrived after "listening" was logged but
//! before a lazily created handler existed would kill the process with the
//! default action, skipping the graceful shutdown.

use std::future::Future;

use tokio::sync::watch;
use tracing::info;

/// Installed handlers for the shutdown signals.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers now (must run inside a tokio runtime).
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Completes when either signal arrives.
    pub async fn received(mut self) {
        self.next().await;
    }

    /// Waits for the next signal of either kind, and logs it.
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => info!("SIGINT received"),
            _ = self.terminate.recv() => info!("SIGTERM received"),
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            info!("Ctrl-C received");
        }
    }

    /// Two futures for [`crate::Server::run_with`]: the first completes on
    /// the first signal (start the drain), the second on the second signal
    /// (stop now). Spawns the task that counts the signals (must run
    /// inside a tokio runtime); it ends after the second one.
    pub fn drain_then_stop(
        mut self,
    ) -> (
        impl Future<Output = ()> + Send + 'static,
        impl Future<Output = ()> + Send + 'static,
    ) {
        let (count, _) = watch::channel(0u8);
        let (mut first, mut second) = (count.subscribe(), count.subscribe());
        tokio::spawn(async move {
            for n in 1..=2u8 {
                self.next().await;
                count.send_replace(n);
            }
        });
        (
            async move {
                let _ = first.wait_for(|n| *n >= 1).await;
            },
            async move {
                let _ = second.wait_for(|n| *n >= 2).await;
            },
        )
    }
}
