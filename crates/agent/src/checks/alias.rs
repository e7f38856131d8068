//! Alias checks: mirror the health of another service instance (and of its
//! node), following the catalog as it changes.

use std::sync::Weak;
use std::time::Duration;

use skein_raft::SharedStore;
use skein_state::Topic;
use skein_types::CheckStatus;

use crate::local::LocalState;

/// Re-evaluates at least this often even without catalog changes.
const REFRESH: Duration = Duration::from_secs(10);

/// Runs the alias check `id` of `node` for `service` on `target_node`.
pub(crate) async fn run(
    id: String,
    service: String,
    target_node: String,
    store: SharedStore,
    state: Weak<LocalState>,
) {
    loop {
        let (status, output, changed) = {
            let Ok(s) = store.read() else { return };
            let (status, output) = aliased_status(&s, &target_node, &service, &id);
            (status, output, s.watch(&[Topic::Catalog]))
        };
        let Some(local) = state.upgrade() else { return };
        local.set_check_status(&id, status, output);
        drop(local);
        let _ = tokio::time::timeout(REFRESH, changed).await;
    }
}

/// The worst status among the service's checks and its node's checks.
fn aliased_status(
    s: &skein_state::Store,
    node: &str,
    service: &str,
    own_id: &str,
) -> (CheckStatus, String) {
    let (_, found) = s.node(node);
    let exists = found.is_some_and(|(_, services)| services.iter().any(|svc| svc.id == service));
    if !exists {
        return (
            CheckStatus::Critical,
            format!("Service {service} could not be found on node {node}"),
        );
    }
    let (_, checks) = s.node_checks(node);
    let worst = checks
        .iter()
        .filter(|c| c.check_id != own_id && (c.service_id.is_empty() || c.service_id == service))
        .map(|c| c.status)
        .max()
        .unwrap_or(CheckStatus::Passing);
    let output = match worst {
        CheckStatus::Passing => "All checks passing.".to_owned(),
        _ => format!("Aliased service {service} has {} checks", worst.as_str()),
    };
    (worst, output)
}
