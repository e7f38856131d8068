//! Where a proxy's resources come from: the seam the agent implements.

use std::sync::Arc;

use tokio::sync::watch;

use crate::{ResourceSet, SourceError};

/// Supplies each proxy's [`ResourceSet`] and its changes.
///
/// The ADS server calls [`subscribe`](Self::subscribe) once per stream,
/// with the first request's `node.id`, then delivers every value the
/// receiver sees. Dropping the sender ends the stream cleanly (Envoy
/// reconnects and subscribes again).
pub trait ProxySource: Send + Sync + 'static {
    /// Resources of the proxy `proxy_id` (Envoy's node.id), checked against
    /// `token` (x-consul-token, may be empty).
    ///
    /// Until the proxy's configuration is ready the receiver may hold an
    /// empty [`ResourceSet`]; nothing is sent for a type that has no
    /// resources and was not [declared](ResourceSet::declare).
    fn subscribe(
        &self,
        proxy_id: &str,
        token: &str,
    ) -> Result<watch::Receiver<Arc<ResourceSet>>, SourceError>;

    /// Re-checks the stream's token while it runs: on every request, every
    /// new snapshot and on an idle timer (Consul re-checks ACLs the same
    /// way, every 5 minutes when idle). An error ends the stream with the
    /// matching status. The default allows everything.
    fn authorize(&self, proxy_id: &str, token: &str) -> Result<(), SourceError> {
        let _ = (proxy_id, token);
        Ok(())
    }
}
