//! The `/v1` route table.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, get_service, put};
use tower::{Service, ServiceBuilder};

use crate::read_route::ReadRoute;
use crate::v1::{
    agent, catalog, chain, config, connect_ca, coordinate, event, gateway, health, intentions, kv,
    operator, session, snapshot, status, txn,
};
use crate::{
    AgentInfo, ApiConfig, Authorizer, Backend, ClusterView, EventLog, LeafCerts, LocalAgent,
    LogFeed,
};

/// Largest request body accepted at all (snapshot restores); endpoints
/// enforce their own, smaller limits.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// Shared state of every handler: one pointer to [`ApiParts`], so the
/// future of every request (which carries it twice: axum's handler wrapper
/// keeps a copy while the handler runs) stays small while it is parked.
#[derive(Clone)]
pub struct ApiState(Arc<ApiParts>);

impl ApiState {
    /// The state of an API made of `parts`.
    pub fn new(parts: ApiParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for ApiState {
    type Target = ApiParts;

    fn deref(&self) -> &ApiParts {
        &self.0
    }
}

/// What the handlers share: the agent's interfaces and the API's settings.
pub struct ApiParts {
    /// The agent behind the API.
    pub backend: Arc<dyn Backend>,
    /// Facts about the agent.
    pub agent: Arc<AgentInfo>,
    /// Limits and defaults.
    pub config: Arc<ApiConfig>,
    /// Authorization of tokens.
    pub auth: Arc<dyn Authorizer>,
    /// The agent's own services and checks.
    pub local: Arc<dyn LocalAgent>,
    /// User events known to this agent.
    pub events: Arc<EventLog>,
    /// The agent's log lines, for `/v1/agent/monitor`.
    pub logs: LogFeed,
    /// The gossip pool.
    pub cluster: Arc<dyn ClusterView>,
    /// Connect leaf certificates of the agent's services.
    pub leaves: Arc<dyn LeafCerts>,
    /// Rendered answers shared by identical reads.
    pub answers: Arc<crate::SharedAnswers>,
}

/// The whole `/v1` API's routes (serve [`service`], which adds the
/// request span and the body limit).
pub fn router(state: ApiState) -> Router {
    let kv_get = ReadRoute::new(&state, kv::get);
    Router::new()
        .route(
            "/v1/kv/",
            get_service(kv_get.clone()).put(kv::put).delete(kv::delete),
        )
        .route(
            "/v1/kv/{*key}",
            get_service(kv_get).put(kv::put).delete(kv::delete),
        )
        .route("/v1/txn", put(txn::apply))
        .merge(session::routes())
        .merge(status::routes())
        .merge(snapshot::routes())
        .merge(operator::routes())
        .merge(agent::routes())
        .merge(catalog::routes(&state))
        .merge(health::routes(&state))
        .merge(coordinate::routes())
        .merge(config::routes())
        .merge(intentions::routes())
        .merge(gateway::routes())
        .merge(chain::routes())
        .merge(connect_ca::routes())
        .merge(event::routes())
        .route("/", get(root))
        .route("/ui", get(ui))
        .route("/ui/", get(ui))
        .with_state(state)
}

/// The whole API as one service: the request span and the body limit wrap
/// the router once. (`Router::layer` wraps every route instead, boxing its
/// future once more per layer, and a parked query carries every box.)
pub fn service(
    state: ApiState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    ServiceBuilder::new()
        .layer(crate::trace::TraceLayer)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .service(router(state))
}

/// `/` sends browsers to the UI, as Consul does.
async fn root() -> Response {
    axum::response::Redirect::permanent("/ui/").into_response()
}

/// The UI's landing page; the web UI itself is not built yet.
async fn ui() -> Response {
    let page = "<!doctype html><title>skein</title><h1>skein</h1>\
                <p>The web UI is not part of this build. The HTTP API is at <code>/v1/</code>.</p>";
    axum::response::Html(page).into_response()
}
