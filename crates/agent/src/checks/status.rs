//! Consecutive-result thresholds: `success_before_passing`,
//! `failures_before_warning`, `failures_before_critical`.

use skein_types::CheckStatus;

/// Turns each run's result into the status to report, if it changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatusHandler {
    success_before_passing: u32,
    failures_before_warning: u32,
    failures_before_critical: u32,
    successes: u32,
    failures: u32,
}

// === impl StatusHandler ===

impl StatusHandler {
    pub(crate) fn new(
        success_before_passing: u32,
        failures_before_warning: u32,
        failures_before_critical: u32,
    ) -> Self {
        Self {
            success_before_passing,
            failures_before_warning,
            failures_before_critical,
            ..Self::default()
        }
    }

    /// The status to set after a run that returned `result`, or `None` to
    /// keep the current one (the threshold is not reached yet).
    pub(crate) fn next(&mut self, result: CheckStatus) -> Option<CheckStatus> {
        if result != CheckStatus::Critical {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            return (self.successes >= self.success_before_passing).then_some(result);
        }
        self.successes = 0;
        self.failures = self.failures.saturating_add(1);
        if self.failures >= self.failures_before_critical {
            Some(CheckStatus::Critical)
        } else if self.failures >= self.failures_before_warning {
            Some(CheckStatus::Warning)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckStatus::*;

    #[test]
    fn without_thresholds_every_result_counts() {
        let mut h = StatusHandler::new(0, 0, 0);
        assert_eq!(h.next(Passing), Some(Passing));
        assert_eq!(h.next(Critical), Some(Critical));
        assert_eq!(h.next(Warning), Some(Warning));
    }

    #[test]
    fn thresholds_delay_transitions() {
        let mut h = StatusHandler::new(2, 1, 3);
        assert_eq!(h.next(Passing), None);
        assert_eq!(h.next(Passing), Some(Passing));
        assert_eq!(h.next(Critical), Some(Warning));
        assert_eq!(h.next(Critical), Some(Warning));
        assert_eq!(h.next(Critical), Some(Critical));
        assert_eq!(
            h.next(Passing),
            None,
            "one pass is not enough after failures"
        );
    }
}
