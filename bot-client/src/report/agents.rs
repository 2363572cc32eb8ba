//! What each agent of a distributed run contributed, for the report.

use serde::Serialize;

/// How an agent's share of the run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AgentStatus {
    /// It ran its share and sent its figures.
    Finished,
    /// It vanished mid-run (connection lost, or silent past the timeout):
    /// its bots' figures are missing from the report.
    Vanished {
        /// What the coordinator saw.
        reason: String,
    },
    /// It refused its share or could not start it.
    Failed {
        /// Why.
        reason: String,
    },
}

/// One agent's share of a distributed run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentReport {
    /// Its name (the address the coordinator reached it at).
    pub name: String,
    /// Index of its first room in the whole run.
    pub first_room: usize,
    /// Rooms it ran.
    pub rooms: usize,
    /// Bots it planned.
    pub bots: usize,
    /// Of them, joined.
    pub joined: usize,
    /// Of the joined well-behaved bots, those verifying every update.
    pub verifying: usize,
    /// Updates its well-behaved bots received in the window.
    pub updates: u64,
    /// Its 99th percentile update latency, milliseconds.
    pub latency_p99_ms: f64,
    /// Its bots' CPU time in the window, seconds.
    pub bot_cpu_s: f64,
    /// How its share ended.
    #[serde(flatten)]
    pub status: AgentStatus,
}

impl AgentReport {
    /// One line for the terminal summary.
    pub fn summary(&self) -> String {
        let status = match &self.status {
            AgentStatus::Finished => "finished".to_owned(),
            AgentStatus::Vanished { reason } => format!("VANISHED ({reason})"),
            AgentStatus::Failed { reason } => format!("FAILED ({reason})"),
        };
        format!(
            "rooms {}..{}: {} / {} bots joined, {} verifying, {} updates, p99 {:.2} ms, CPU {:.2} s, {status}",
            self.first_room,
            self.first_room + self.rooms,
            self.joined,
            self.bots,
            self.verifying,
            self.updates,
            self.latency_p99_ms,
            self.bot_cpu_s,
        )
    }
}
