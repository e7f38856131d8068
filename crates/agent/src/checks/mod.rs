//! The checks the agent runs: TTL, HTTP, TCP and script. Each runs in its
//! own task and reports results to the local state, which syncs status
//! changes to the catalog at once.

mod alias;
mod grpc;
mod probe;
mod status;
mod tls;

use std::sync::{Arc, Weak};
use std::time::Duration;

use skein_config::{CheckDefinition, CheckKind};
use skein_raft::SharedStore;
use skein_types::CheckStatus;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub(crate) use status::StatusHandler;

use crate::local::LocalState;

/// Default per-run timeout of HTTP, TCP and script checks.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Script checks default to a longer timeout, as in Consul.
const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// A running check: its task, and for TTL checks the reset signal.
#[derive(Debug)]
pub(crate) struct Runner {
    task: JoinHandle<()>,
    pub(crate) ttl_reset: Option<Arc<Notify>>,
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What check tasks may need besides their definition.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// This agent's node.
    pub(crate) node: String,
    /// The state store, for alias checks.
    pub(crate) store: SharedStore,
}

/// Starts the task that runs `def`, reporting into `state`.
pub(crate) fn start(
    def: &CheckDefinition,
    state: Weak<LocalState>,
    ctx: &Context,
) -> Option<Runner> {
    let id = def.id.clone();
    match &def.kind {
        CheckKind::Ttl(ttl) => {
            let reset = Arc::new(Notify::new());
            let task = tokio::spawn(run_ttl(id, *ttl, reset.clone(), state));
            Some(Runner {
                task,
                ttl_reset: Some(reset),
            })
        }
        CheckKind::Alias { service, node } => {
            let node = if node.is_empty() {
                ctx.node.clone()
            } else {
                node.clone()
            };
            let task = tokio::spawn(alias::run(
                id,
                service.clone(),
                node,
                ctx.store.clone(),
                state,
            ));
            Some(Runner {
                task,
                ttl_reset: None,
            })
        }
        CheckKind::Manual => None,
        _ => {
            let task = tokio::spawn(run_interval(def.clone(), state));
            Some(Runner {
                task,
                ttl_reset: None,
            })
        }
    }
}

async fn run_ttl(id: String, ttl: Duration, reset: Arc<Notify>, state: Weak<LocalState>) {
    loop {
        if tokio::time::timeout(ttl, reset.notified()).await.is_ok() {
            continue;
        }
        let Some(state) = state.upgrade() else { return };
        state.set_check_status(
            &id,
            CheckStatus::Critical,
            format!("TTL expired (last update was more than {ttl:?} ago)"),
        );
        drop(state);
        reset.notified().await;
    }
}

async fn run_interval(def: CheckDefinition, state: Weak<LocalState>) {
    let interval = def.interval.unwrap_or(Duration::from_secs(10));
    let default_timeout = if matches!(def.kind, CheckKind::Script(_)) {
        DEFAULT_SCRIPT_TIMEOUT
    } else {
        DEFAULT_TIMEOUT
    };
    let timeout = def.timeout.unwrap_or(default_timeout);
    let mut handler = StatusHandler::new(
        def.success_before_passing,
        def.failures_before_warning,
        def.failures_before_critical,
    );
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (result, output) = probe::run(&def.kind, timeout).await;
        let Some(state) = state.upgrade() else { return };
        if let Some(status) = handler.next(result) {
            state.set_check_status(&def.id, status, truncate(output, def.output_max_size));
        }
    }
}

fn truncate(mut output: String, max: usize) -> String {
    if output.len() > max {
        let mut end = max;
        while !output.is_char_boundary(end) {
            end -= 1;
        }
        output.truncate(end);
        output.push_str(" ... (captured output truncated)");
    }
    output
}
