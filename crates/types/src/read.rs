//! How a read is served: the consistency a client asks for and what the
//! answer reports about the cluster.

/// Read consistency, as Consul's `?stale`, default and `?consistent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Any server answers from its own state.
    Stale,
    /// The leader answers from its state.
    Default,
    /// The leader confirms it still leads (read index) first.
    Consistent,
}

/// What a read reports about the cluster alongside its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMeta {
    /// A leader is known.
    pub known_leader: bool,
    /// Milliseconds since this server heard from the leader (0 on the leader).
    pub last_contact_ms: u64,
}
