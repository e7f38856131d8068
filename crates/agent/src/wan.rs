//! The WAN pool: the servers of every datacenter, named `<node>.<dc>`.
//!
//! Only servers join it. It carries the tags of the LAN pool, uses
//! memberlist's WAN timing, and tells which datacenters exist and how far
//! each one is (`/v1/catalog/datacenters`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use skein_config::RuntimeConfig;
use skein_http_api::AgentInfo;
use skein_membership::{GossipPool, Member, MemberStatus, Membership, Timing};

use crate::Result;
use crate::cluster::Pool;

/// Consul's default WAN gossip port, for join addresses without one.
pub(crate) const DEFAULT_PORT: u16 = 8302;

/// Starts the WAN pool on a server whose `ports.serf_wan` is not -1.
pub(crate) async fn start(
    config: &RuntimeConfig,
    info: &AgentInfo,
    data_dir: Option<&Path>,
) -> Result<Option<Arc<GossipPool>>> {
    let Some(port) = config.ports.serf_wan.filter(|_| info.server) else {
        return Ok(None);
    };
    let wan = Pool {
        kind: "WAN",
        name: format!("{}.{}", info.node_name, info.datacenter),
        port,
        timing: Timing::wan(),
        keyring_file: "remote.keyring",
        snapshot_file: "remote.snapshot",
    };
    let pool = wan.start(config, info, data_dir).await?;
    Ok(Some(pool))
}

/// The datacenters of the alive WAN members: `own` first, then the others
/// by the median estimated round trip to their servers (unmeasured ones
/// last, by name).
pub(crate) fn datacenters(pool: &GossipPool, own: &str) -> Vec<String> {
    let me = pool.coordinate();
    let coords: BTreeMap<String, skein_types::Coordinate> =
        pool.coordinates().into_iter().collect();
    let mut rtts: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for m in pool.members() {
        let Some(dc) = alive_dc(&m) else { continue };
        let rtt = coords
            .get(&m.name)
            .and_then(|c| me.distance_to(c))
            .map(|d| d.as_secs_f64());
        let entry = rtts.entry(dc.to_owned()).or_default();
        entry.extend(rtt);
    }
    rtts.remove(own);
    let mut others: Vec<(Option<f64>, String)> = rtts
        .into_iter()
        .map(|(dc, mut samples)| (median(&mut samples), dc))
        .collect();
    others.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.1.cmp(&b.1)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.1.cmp(&b.1),
    });
    std::iter::once(own.to_owned())
        .chain(others.into_iter().map(|(_, dc)| dc))
        .collect()
}

fn alive_dc(m: &Member) -> Option<&str> {
    (m.status == MemberStatus::Alive)
        .then(|| m.tags.get("dc").map(String::as_str))
        .flatten()
}

fn median(samples: &mut [f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    Some(samples[samples.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_samples() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0]), Some(4.0));
    }
}
