//! A debug span per request, as a tower layer whose future is the inner
//! future plus the span: a parked blocking query carries no more than that
//! (a `middleware::from_fn` future held the whole request next to it,
//! about 1.2 KB per parked query).

use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use futures::FutureExt;
use futures::future::Inspect;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::instrument::Instrumented;

/// Wraps every route in [`Traced`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TraceLayer;

impl<S> Layer<S> for TraceLayer {
    type Service = Traced<S>;

    fn layer(&self, inner: S) -> Traced<S> {
        Traced { inner }
    }
}

/// A service whose calls run in an `http` span and log their status.
#[derive(Debug, Clone)]
pub(crate) struct Traced<S> {
    inner: S,
}

type Logged<F, E> = Inspect<F, fn(&Result<Response, E>)>;

impl<S> Service<Request> for Traced<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Instrumented<Logged<S::Future, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let span = tracing::debug_span!("http", method = %req.method(), path = %req.uri().path());
        let future = span.in_scope(|| self.inner.call(req));
        let log: fn(&Result<Response, S::Error>) = log_status::<S::Error>;
        future.inspect(log).instrument(span)
    }
}

fn log_status<E>(result: &Result<Response, E>) {
    if let Ok(resp) = result {
        tracing::debug!(status = resp.status().as_u16(), "request");
    }
}
