//! Lifeguard's local health awareness (memberlist's `awareness`): a score
//! that rises when this node seems unhealthy itself (its probes go
//! unanswered, others suspect it) and falls as probes succeed.

/// memberlist's `AwarenessMaxMultiplier`: the score stays below it, so
/// timeouts scale by at most this factor.
pub(crate) const MAX_MULTIPLIER: u32 = 8;

/// The Local Health Multiplier, 0 (healthy) to `MAX_MULTIPLIER - 1`.
#[derive(Debug, Default)]
pub(crate) struct Awareness {
    score: u32,
}

// === impl Awareness ===

impl Awareness {
    /// Adds `delta`, clamped to `0..MAX_MULTIPLIER` as memberlist does.
    pub(crate) fn apply(&mut self, delta: i32) {
        let next = i64::from(self.score) + i64::from(delta);
        let clamped = next.clamp(0, i64::from(MAX_MULTIPLIER - 1));
        self.score = u32::try_from(clamped).unwrap_or(0);
    }

    pub(crate) fn score(&self) -> u32 {
        self.score
    }

    /// A timeout scaled by `score + 1`.
    pub(crate) fn scale(&self, timeout: std::time::Duration) -> std::time::Duration {
        timeout.saturating_mul(self.score + 1)
    }

    /// When foca's `timer` should fire: Lifeguard's local-health-aware
    /// probe stretches the probe interval and the wait for a direct ack by
    /// `score + 1`, so a node too slow to answer in time stops accusing
    /// healthy members. Other timers keep foca's timing.
    pub(crate) fn delay<T>(
        &self,
        timer: &foca::Timer<T>,
        after: std::time::Duration,
    ) -> std::time::Duration {
        match timer {
            foca::Timer::ProbeRandomMember(_) | foca::Timer::SendIndirectProbe { .. } => {
                self.scale(after)
            }
            _ => after,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn only_probe_timers_stretch() {
        let mut a = Awareness::default();
        let second = Duration::from_secs(1);
        let probe: foca::Timer<u8> = foca::Timer::ProbeRandomMember(7);
        let gossip: foca::Timer<u8> = foca::Timer::PeriodicGossip(1);
        assert_eq!(a.delay(&probe, second), second);
        a.apply(2);
        assert_eq!(a.delay(&probe, second), second * 3);
        assert_eq!(a.delay(&gossip, second), second);
    }

    #[test]
    fn score_is_clamped_like_memberlist() {
        let mut a = Awareness::default();
        a.apply(-1);
        assert_eq!(a.score(), 0);
        a.apply(3);
        assert_eq!(a.score(), 3);
        assert_eq!(a.scale(Duration::from_millis(500)), Duration::from_secs(2));
        a.apply(100);
        assert_eq!(a.score(), 7);
        assert_eq!(a.scale(Duration::from_secs(1)), Duration::from_secs(8));
        a.apply(-2);
        assert_eq!(a.score(), 5);
        a.apply(i32::MIN);
        assert_eq!(a.score(), 0);
    }
}
