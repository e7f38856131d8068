//! Blocking queries: answer at once, or park on the store's watches until
//! what the query read changes past the client's index or the wait ends.

use std::time::Duration;

use rand::Rng;
use skein_state::{Store, Topic};
use tokio::time::Instant;

use crate::query::Req;
use crate::{ApiError, ApiState, ReadMeta};

/// The answer of a read, with the index it reflects.
#[derive(Debug)]
pub(crate) struct Answer<T> {
    pub(crate) index: u64,
    pub(crate) value: T,
    pub(crate) meta: ReadMeta,
}

/// Runs `read` against the store; with `?index=N` parks until the index
/// passes N (woken only by changes to the returned topics) or the wait
/// (plus up to 1/16 jitter) runs out.
pub(crate) async fn query<T, F>(state: &ApiState, req: &Req, read: F) -> Result<Answer<T>, ApiError>
where
    F: Fn(&Store) -> (u64, T, Vec<Topic>),
{
    let meta = state.backend.read_barrier(req.consistency).await?;
    let deadline = Instant::now() + with_jitter(req.wait);
    let store = state.backend.store();
    loop {
        let watch = {
            let guard = store
                .read()
                .map_err(|_| ApiError::Internal("state store poisoned".into()))?;
            let (index, value, topics) = read(&guard);
            let index = index.max(1);
            if req.index == 0 || index > req.index || Instant::now() >= deadline {
                return Ok(Answer { index, value, meta });
            }
            guard.watch(&topics)
        };
        let _ = tokio::time::timeout_at(deadline, watch).await;
    }
}

fn with_jitter(wait: Duration) -> Duration {
    let max_jitter = wait.as_millis() as u64 / 16;
    if max_jitter == 0 {
        return wait;
    }
    wait + Duration::from_millis(rand::thread_rng().gen_range(0..max_jitter))
}
