//! Server-side CSR admission: Consul's `csr_max_per_second` token bucket and
//! `csr_max_concurrent` slots, driven by caller-supplied `Instant`s.
//!
//! Like Consul, the rate limit wins when both are set; the bucket holds one
//! token (a hard limit) and a request may wait up to [`CSR_LIMIT_WAIT`] for
//! its token. The limiter never sleeps: it hands back how long to wait.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Consul's default `CSRMaxPerSecond`.
pub const DEFAULT_CSR_MAX_PER_SECOND: f64 = 50.0;

/// The longest a CSR may wait for a token (Consul's `csrLimitWait`).
pub const CSR_LIMIT_WAIT: Duration = Duration::from_millis(500);

/// The two CA config knobs, plus the wait allowance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CsrLimits {
    /// Tokens per second; `0` disables the rate limit.
    pub max_per_second: f64,
    /// Concurrent signings; `0` disables it. Ignored when `max_per_second`
    /// is non-zero, as in Consul.
    pub max_concurrent: u32,
    /// How long a request may wait for its token before it is refused.
    pub max_wait: Duration,
}

/// Admits or refuses CSRs. Cloning shares the same budget.
#[derive(Clone, Debug)]
pub struct CsrLimiter {
    state: Arc<Mutex<State>>,
}

/// Permission to sign one CSR. Sign after [`CsrPermit::wait`] has passed;
/// dropping the permit frees its concurrency slot.
#[derive(Debug)]
#[must_use = "dropping the permit releases it at once"]
pub struct CsrPermit {
    wait: Duration,
    slot: Option<Arc<Mutex<State>>>,
}

#[derive(Debug)]
struct State {
    limits: CsrLimits,
    /// Tokens in the bucket; negative when future tokens are reserved.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    last: Option<Instant>,
    in_flight: u32,
}

// === impl CsrLimits ===

impl Default for CsrLimits {
    fn default() -> Self {
        CsrLimits {
            max_per_second: DEFAULT_CSR_MAX_PER_SECOND,
            max_concurrent: 0,
            max_wait: CSR_LIMIT_WAIT,
        }
    }
}

// === impl CsrLimiter ===

impl CsrLimiter {
    /// A limiter with a full bucket.
    pub fn new(limits: CsrLimits) -> Self {
        let state = State {
            limits,
            tokens: BURST,
            last: None,
            in_flight: 0,
        };
        CsrLimiter {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Applies new limits (a CA config change); a changed rate starts from a
    /// full bucket, like Consul's fresh limiter.
    pub fn set_limits(&self, limits: CsrLimits) {
        let mut st = lock(&self.state);
        if st.limits.max_per_second != limits.max_per_second {
            st.tokens = BURST;
            st.last = None;
        }
        st.limits = limits;
    }

    /// Admits one CSR at `now`, or refuses it with [`Error::RateLimited`].
    pub fn acquire(&self, now: Instant) -> Result<CsrPermit> {
        let mut st = lock(&self.state);
        let rate = st.limits.max_per_second;
        if rate > 0.0 {
            let wait = st.take_token(rate, now)?;
            return Ok(CsrPermit { wait, slot: None });
        }
        let max = st.limits.max_concurrent;
        if max > 0 {
            if st.in_flight >= max {
                return Err(Error::RateLimited);
            }
            st.in_flight += 1;
            let slot = Some(Arc::clone(&self.state));
            return Ok(CsrPermit {
                wait: Duration::ZERO,
                slot,
            });
        }
        Ok(CsrPermit {
            wait: Duration::ZERO,
            slot: None,
        })
    }

    /// Signings currently holding a concurrency slot.
    pub fn in_flight(&self) -> u32 {
        lock(&self.state).in_flight
    }
}

/// Bucket size: one token, a hard limit.
const BURST: f64 = 1.0;

// === impl State ===

impl State {
    /// Refills the bucket up to `now`, then reserves one token if it is
    /// available within `max_wait`; returns the wait.
    fn take_token(&mut self, rate: f64, now: Instant) -> Result<Duration> {
        let elapsed = self
            .last
            .map_or(Duration::ZERO, |last| now.saturating_duration_since(last));
        self.tokens = (self.tokens + elapsed.as_secs_f64() * rate).min(BURST);
        self.last = Some(now.max(self.last.unwrap_or(now)));
        let after = self.tokens - 1.0;
        let wait = if after >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-after / rate)
        };
        if wait > self.limits.max_wait {
            return Err(Error::RateLimited);
        }
        self.tokens = after;
        Ok(wait)
    }
}

// === impl CsrPermit ===

impl CsrPermit {
    /// How long to wait before signing (zero unless the token was borrowed
    /// from the near future).
    pub fn wait(&self) -> Duration {
        self.wait
    }
}

impl Drop for CsrPermit {
    fn drop(&mut self) {
        if let Some(state) = self.slot.take() {
            let mut st = lock(&state);
            st.in_flight = st.in_flight.saturating_sub(1);
        }
    }
}

/// The state stays consistent even if a holder panicked: every update is a
/// few plain assignments.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: f64, concurrent: u32, wait_ms: u64) -> CsrLimits {
        CsrLimits {
            max_per_second: per_second,
            max_concurrent: concurrent,
            max_wait: Duration::from_millis(wait_ms),
        }
    }

    #[test]
    fn rate_admits_burst_then_refuses() {
        let lim = CsrLimiter::new(limits(10.0, 0, 0));
        let t0 = Instant::now();
        assert_eq!(lim.acquire(t0).unwrap().wait(), Duration::ZERO);
        assert!(matches!(lim.acquire(t0), Err(Error::RateLimited)));
        // One token every 100ms.
        assert!(lim.acquire(t0 + Duration::from_millis(50)).is_err());
        assert!(lim.acquire(t0 + Duration::from_millis(100)).is_ok());
        assert!(lim.acquire(t0 + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn rate_admits_what_fits_in_the_wait() {
        // 50/s with Consul's 500ms wait: 1 now + 25 reserved, then refuse.
        let lim = CsrLimiter::new(CsrLimits::default());
        let t0 = Instant::now();
        let mut last_wait = Duration::ZERO;
        for _ in 0..26 {
            let permit = lim.acquire(t0).unwrap();
            assert!(permit.wait() >= last_wait);
            last_wait = permit.wait();
        }
        assert!(last_wait <= CSR_LIMIT_WAIT);
        assert!(matches!(lim.acquire(t0), Err(Error::RateLimited)));
        assert_eq!(
            Error::RateLimited.to_string(),
            "Rate limit reached, try again later"
        );
    }

    #[test]
    fn concurrency_slots_are_released_on_drop() {
        let lim = CsrLimiter::new(limits(0.0, 2, 0));
        let t0 = Instant::now();
        let a = lim.acquire(t0).unwrap();
        let b = lim.acquire(t0).unwrap();
        assert_eq!(lim.in_flight(), 2);
        assert!(matches!(lim.acquire(t0), Err(Error::RateLimited)));
        drop(a);
        let c = lim.acquire(t0).unwrap();
        drop((b, c));
        assert_eq!(lim.in_flight(), 0);
    }

    #[test]
    fn zero_means_unlimited() {
        let lim = CsrLimiter::new(limits(0.0, 0, 0));
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert_eq!(lim.acquire(t0).unwrap().wait(), Duration::ZERO);
        }
    }

    #[test]
    fn rate_wins_over_concurrency() {
        let lim = CsrLimiter::new(limits(1.0, 1, 0));
        let t0 = Instant::now();
        let _held = lim.acquire(t0).unwrap();
        assert_eq!(lim.in_flight(), 0);
        assert!(lim.acquire(t0 + Duration::from_secs(1)).is_ok());
    }
}
