//! Blocking queries: answer at once, or park on the store's watches until
//! what the query read changes past the client's index or the wait ends.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use futures::future::Either;

use rand::Rng;
use skein_state::{Store, Topic};
use tokio::time::Instant;

use crate::query::Req;
use crate::response::read_headers;
use crate::shared::{Body, Entry};
use crate::{ApiError, ApiState, Consistency, ReadMeta};

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
    let mut woken = false;
    loop {
        let turn = wake_turn(state, woken).await;
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
        // The turn is for re-reading, never held while parked.
        drop(turn);
        let _ = tokio::time::timeout_at(deadline, watch).await;
        woken = true;
    }
}

/// A woken query's turn to re-read. One write can wake tens of thousands
/// of parked queries at once; they take turns (a fair semaphore), so the
/// runtime's queue never holds more than a few dozen of them and requests
/// that arrive meanwhile (writes, other reads) are not stuck behind the
/// whole crowd.
async fn wake_turn(state: &ApiState, woken: bool) -> Option<tokio::sync::SemaphorePermit<'_>> {
    if !woken {
        return None;
    }
    state.answers.wake_turns().acquire().await.ok()
}

/// What a shared read keeps of its request: a handler takes this from the
/// [`Req`] and drops the request before the read may park, so a parked
/// query holds no path, parameters or token of its own.
pub(crate) struct Blocking {
    /// The shared-answer key ([`Req::share_key`]).
    key: String,
    index: u64,
    wait: Duration,
    consistency: Consistency,
}

impl Blocking {
    pub(crate) fn of(req: &Req) -> Self {
        Self {
            key: req.share_key(),
            index: req.index,
            wait: req.wait,
            consistency: req.consistency,
        }
    }
}

/// [`shared`] for a read that may have failed before it started (a bad
/// parameter, a denied token), as one future that holds only what the read
/// needs: an `async` wrapper would keep the request's leftovers in its
/// captures for as long as the query stays parked.
pub(crate) fn shared_or<F>(
    state: ApiState,
    b: Blocking,
    read: Result<F, ApiError>,
) -> impl Future<Output = Result<Response, ApiError>> + Send
where
    F: Fn(&Store) -> (u64, Body, Vec<Topic>) + Send,
{
    match read {
        Ok(read) => Either::Left(shared(state, b, read)),
        Err(e) => Either::Right(std::future::ready(Err(e))),
    }
}

/// Like [`query`] for reads whose answer is rendered once per change and
/// shared by every identical read (same path, parameters and token): a
/// read reuses the answer an earlier one rendered while its topics have
/// not changed since (a crowd of woken watchers renders it once).
async fn shared<F>(state: ApiState, b: Blocking, read: F) -> Result<Response, ApiError>
where
    F: Fn(&Store) -> (u64, Body, Vec<Topic>),
{
    let meta = state.backend.read_barrier(b.consistency).await?;
    let deadline = Instant::now() + with_jitter(b.wait);
    let store = state.backend.store();
    let mut woken = false;
    loop {
        let turn = wake_turn(&state, woken).await;
        let (entry, parked) = {
            let guard = store
                .read()
                .map_err(|_| ApiError::Internal("state store poisoned".into()))?;
            // Checked under the read view: an entry current now stays
            // current until a write, which this guard holds off.
            let entry = match state.answers.get(&b.key) {
                Some(entry) => entry,
                None => {
                    let (index, body, topics) = read(&guard);
                    let valid = guard.watch(&topics);
                    let entry = Arc::new(Entry::new(index.max(1), body, topics, valid));
                    state.answers.put(b.key.clone(), entry.clone());
                    entry
                }
            };
            let done = b.index == 0 || entry.index > b.index || Instant::now() >= deadline;
            let parked = (!done).then(|| guard.watch(&entry.topics));
            (entry, parked)
        };
        match parked {
            None => return Ok(respond(&state, &entry, meta, b.consistency)),
            Some(watch) => {
                drop(turn);
                let _ = tokio::time::timeout_at(deadline, watch).await;
                woken = true;
            }
        }
    }
}

fn respond(state: &ApiState, entry: &Entry, meta: ReadMeta, c: Consistency) -> Response {
    let mut headers = read_headers(state, entry.index, meta, c);
    if let Some(ct) = entry.body.content_type {
        headers.insert("content-type", HeaderValue::from_static(ct));
        if ct.starts_with("text/plain") {
            headers.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
        }
    }
    (entry.body.status, headers, entry.body.bytes.clone()).into_response()
}

fn with_jitter(wait: Duration) -> Duration {
    let max_jitter = wait.as_millis() as u64 / 16;
    if max_jitter == 0 {
        return wait;
    }
    wait + Duration::from_millis(rand::thread_rng().gen_range(0..max_jitter))
}
