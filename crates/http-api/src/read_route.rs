//! Blocking reads routed as services rather than axum handlers.
//!
//! axum runs a handler inside a future of its own that keeps the whole
//! request among its captures (about 240 B) beside the handler's future,
//! for as long as the handler runs: for a blocking query, as long as it
//! stays parked. A [`ReadRoute`] extracts the path parameter and the [`Req`]
//! at once, drops the request and returns the read's own future, so a
//! parked query holds only what its read needs.

use std::convert::Infallible;
use std::future::Future;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request, State};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use futures::future::BoxFuture;
use tower::Service;

use crate::query::Req;
use crate::{ApiError, ApiState};

/// A GET route answered by `read(state, param, req)`, where `param` is
/// extracted from the path (`Path<String>`, `Option<Path<String>>`).
pub(crate) struct ReadRoute<R, P> {
    state: ApiState,
    read: R,
    _param: std::marker::PhantomData<fn() -> P>,
}

impl<R: Clone, P> Clone for ReadRoute<R, P> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            read: self.read.clone(),
            _param: std::marker::PhantomData,
        }
    }
}

impl<R, P> ReadRoute<R, P> {
    pub(crate) fn new(state: &ApiState, read: R) -> Self {
        Self {
            state: state.clone(),
            read,
            _param: std::marker::PhantomData,
        }
    }
}

impl<R, P, F> Service<Request> for ReadRoute<R, P>
where
    R: Fn(State<ApiState>, P, Req) -> F,
    P: FromRequestParts<ApiState>,
    P::Rejection: IntoResponse,
    F: Future<Output = Result<Response, ApiError>> + Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let (mut parts, _body) = req.into_parts();
        // Both extractors finish without waiting; one poll runs them.
        let param = P::from_request_parts(&mut parts, &self.state).now_or_never();
        let param = match param {
            Some(Ok(param)) => param,
            Some(Err(rejection)) => return answer_now(rejection.into_response()),
            None => return answer_now(pending_extractor()),
        };
        let req = match Req::from_request_parts(&mut parts, &self.state).now_or_never() {
            Some(Ok(req)) => req,
            Some(Err(e)) => return answer_now(e.into_response()),
            None => return answer_now(pending_extractor()),
        };
        drop(parts);
        (self.read)(State(self.state.clone()), param, req)
            .map(|answer| Ok(answer.into_response()))
            .boxed()
    }
}

fn answer_now(response: Response) -> BoxFuture<'static, Result<Response, Infallible>> {
    std::future::ready(Ok(response)).boxed()
}

/// An extractor that waited: not one that a read route uses.
fn pending_extractor() -> Response {
    ApiError::Internal("a path extractor did not finish at once".into()).into_response()
}
