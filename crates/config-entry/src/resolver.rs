//! `service-resolver`: subsets, redirects, failover, timeouts and load
//! balancing at the bottom of a discovery chain.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::error::{Error, Result};
use crate::lb::LoadBalancer;
use crate::shared::validate_meta;

/// Longest subset name (a DNS label, since it ends up in SNI).
const SUBSET_MAX_LENGTH: usize = 63;

/// A `service-resolver` config entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceResolver {
    /// The service resolved.
    #[serde(default)]
    pub name: String,
    /// Subset used when none is requested.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_subset: String,
    /// Named subsets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subsets: BTreeMap<String, ServiceResolverSubset>,
    /// Resolve something else instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<ServiceResolverRedirect>,
    /// Failover per subset name, or `*` for any subset.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failover: BTreeMap<String, ServiceResolverFailover>,
    /// Timeout for new connections (chain default 5s).
    #[serde(default, skip_serializing_if = "GoDuration::is_zero")]
    pub connect_timeout: GoDuration,
    /// Timeout for HTTP requests.
    #[serde(default, skip_serializing_if = "GoDuration::is_zero")]
    pub request_timeout: GoDuration,
    /// Load-balancing policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancer>,
    /// Locality-aware routing (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prioritize_by_locality: Option<PrioritizeByLocality>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// Raft index of creation.
    #[serde(default)]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(default)]
    pub modify_index: u64,
}

/// A named subset: a catalog filter plus health strictness.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceResolverSubset {
    /// Filter expression over service instances.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter: String,
    /// Treat warning instances as unhealthy.
    #[serde(default, skip_serializing_if = "crate::serde_util::is_false")]
    pub only_passing: bool,
}

/// What a redirect resolves instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceResolverRedirect {
    /// Service.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Subset.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Namespace (Enterprise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Partition (Enterprise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Sameness group (Enterprise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sameness_group: String,
    /// Datacenter.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Cluster peer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer: String,
}

/// Where traffic goes when the primary instances are unhealthy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceResolverFailover {
    /// Service.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Subset.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Namespace (Enterprise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Sameness group (Enterprise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sameness_group: String,
    /// Datacenters tried in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
    /// Explicit targets tried in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<ServiceResolverFailoverTarget>,
    /// Ordering policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<FailoverPolicy>,
}

/// One explicit failover target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceResolverFailoverTarget {
    /// Service.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Subset.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Partition (Enterprise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Namespace (Enterprise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Datacenter.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Cluster peer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer: String,
}

/// Failover ordering policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FailoverPolicy {
    /// `""`, `default` or `order-by-locality`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    /// Regions for `order-by-locality`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// Locality-aware routing settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PrioritizeByLocality {
    /// `""`, `none` or `failover`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
}

// === impl ServiceResolver ===

impl ServiceResolver {
    /// A resolver with nothing configured, as the chain compiler assumes.
    pub fn default_for(name: &str) -> ServiceResolver {
        ServiceResolver {
            name: name.to_string(),
            ..ServiceResolver::default()
        }
    }

    /// Whether `subset` is empty (the unnamed subset) or defined.
    pub fn subset_exists(&self, subset: &str) -> bool {
        subset.is_empty() || self.subsets.contains_key(subset)
    }

    /// Consul's `IsDefault`: nothing beyond the name is configured.
    pub fn is_default(&self) -> bool {
        self.default_subset.is_empty()
            && self.subsets.is_empty()
            && self.redirect.is_none()
            && self.failover.is_empty()
            && self.connect_timeout.is_zero()
            && self.request_timeout.is_zero()
            && self.load_balancer.is_none()
            && self.prioritize_by_locality.is_none()
    }

    /// Consul's `Validate`.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("Name is required"));
        }
        validate_meta(&self.meta)?;
        self.validate_subsets()?;
        if !self.default_subset.is_empty() && !self.subsets.contains_key(&self.default_subset) {
            return Err(Error::invalid(format!(
                "DefaultSubset {:?} is not a valid subset",
                self.default_subset
            )));
        }
        if let Some(redirect) = &self.redirect {
            self.validate_redirect(redirect)?;
        }
        for (subset, failover) in &self.failover {
            self.validate_failover(subset, failover)?;
        }
        self.validate_timeouts()?;
        if let Some(lb) = &self.load_balancer {
            lb.validate()?;
        }
        match &self.prioritize_by_locality {
            Some(pbl) => pbl.validate(),
            None => Ok(()),
        }
    }

    /// Services this resolver redirects or fails over to, besides itself.
    pub fn related_services(&self) -> BTreeSet<String> {
        let redirect = self.redirect.iter().map(|r| r.service.as_str());
        let failover = self.failover.values().flat_map(|f| {
            let own = (f.targets.is_empty()).then_some(f.service.as_str());
            let targets = f
                .targets
                .iter()
                .filter(|t| t.peer.is_empty())
                .map(|t| t.service.as_str());
            own.into_iter().chain(targets)
        });
        redirect
            .chain(failover)
            .filter(|s| !s.is_empty() && *s != self.name)
            .map(str::to_string)
            .collect()
    }

    fn validate_subsets(&self) -> Result<()> {
        for (name, subset) in &self.subsets {
            if name.is_empty() {
                return Err(Error::invalid("Subset defined with empty name"));
            }
            if let Err(reason) = validate_subset_name(name) {
                return Err(Error::invalid(format!(
                    "Subset {name:?} is invalid: {reason}"
                )));
            }
            if !subset.filter.is_empty()
                && let Err(e) = skein_filter::Filter::parse(&subset.filter)
            {
                return Err(Error::invalid(format!(
                    "Filter for subset {name:?} is not a valid expression: {e}"
                )));
            }
        }
        Ok(())
    }

    fn validate_redirect(&self, r: &ServiceResolverRedirect) -> Result<()> {
        if !r.partition.is_empty() && r.partition != "default" && !r.datacenter.is_empty() {
            return Err(Error::invalid(
                "Cross-datacenter and cross-partition redirect is not supported",
            ));
        }
        r.validate_enterprise()
            .map_err(|e| Error::invalid(format!("Redirect: {e}")))?;
        if !self.failover.is_empty() {
            return Err(Error::invalid("Redirect and Failover cannot both be set"));
        }
        if r.is_empty() {
            return Err(Error::invalid("Redirect is empty"));
        }
        let message = match () {
            _ if !r.peer.is_empty() && !r.service_subset.is_empty() => {
                "Redirect.Peer cannot be set with Redirect.ServiceSubset".to_string()
            }
            _ if !r.peer.is_empty() && !r.partition.is_empty() => {
                "Redirect.Partition cannot be set with Redirect.Peer".to_string()
            }
            _ if !r.peer.is_empty() && !r.datacenter.is_empty() => {
                "Redirect.Peer cannot be set with Redirect.Datacenter".to_string()
            }
            _ if r.service.is_empty() => return r.validate_without_service(),
            _ if !r.service_subset.is_empty() && r.service == self.name => {
                if self.subsets.contains_key(&r.service_subset) {
                    return Ok(());
                }
                format!(
                    "Redirect.ServiceSubset {:?} is not a valid subset of {:?}",
                    r.service_subset, self.name
                )
            }
            _ => return Ok(()),
        };
        Err(Error::invalid(message))
    }

    fn validate_failover(&self, subset: &str, f: &ServiceResolverFailover) -> Result<()> {
        let fail = |msg: String| Err(Error::invalid(format!("Bad Failover[{subset:?}]: {msg}")));
        if let Err(e) = f.validate_enterprise() {
            return fail(e.to_string());
        }
        if subset != "*" && !self.subsets.contains_key(subset) {
            return fail("not a valid subset subset".to_string());
        }
        if f.is_empty() {
            return fail(
                "one of Service, ServiceSubset, Namespace, Targets, or Datacenters is required"
                    .to_string(),
            );
        }
        let own_service = f.service.is_empty() || f.service == self.name;
        if !f.service_subset.is_empty() && own_service && !self.subset_exists(&f.service_subset) {
            return fail(format!(
                "ServiceSubset {:?} is not a valid subset of {:?}",
                f.service_subset, f.service
            ));
        }
        if !f.targets.is_empty() {
            if !f.datacenters.is_empty() {
                return fail("Targets cannot be set with Datacenters".to_string());
            }
            if !f.service_subset.is_empty() {
                return fail("Targets cannot be set with ServiceSubset".to_string());
            }
            if !f.service.is_empty() {
                return fail("Targets cannot be set with Service".to_string());
            }
        }
        for (i, target) in f.targets.iter().enumerate() {
            self.validate_failover_target(subset, i, target)?;
        }
        if f.datacenters.iter().any(String::is_empty) {
            return Err(Error::invalid(format!(
                "Bad Failover[{subset:?}].Datacenters: found empty datacenter"
            )));
        }
        Ok(())
    }

    fn validate_failover_target(
        &self,
        subset: &str,
        i: usize,
        t: &ServiceResolverFailoverTarget,
    ) -> Result<()> {
        let message = match () {
            _ if !t.partition.is_empty() => "Setting Partition requires Consul Enterprise".into(),
            _ if !t.namespace.is_empty() => "Setting Namespace requires Consul Enterprise".into(),
            _ if !t.peer.is_empty() && !t.service_subset.is_empty() => {
                "Peer cannot be set with ServiceSubset".into()
            }
            _ if !t.peer.is_empty() && !t.datacenter.is_empty() => {
                "Peer cannot be set with Datacenter".into()
            }
            _ if !t.service_subset.is_empty()
                && (t.service.is_empty() || t.service == self.name)
                && !self.subsets.contains_key(&t.service_subset) =>
            {
                format!(
                    "ServiceSubset {:?} is not a valid subset of {:?}",
                    t.service_subset, self.name
                )
            }
            _ => return Ok(()),
        };
        Err(Error::invalid(format!(
            "Bad Failover[{subset:?}].Targets[{i}]: {message}"
        )))
    }

    fn validate_timeouts(&self) -> Result<()> {
        if self.connect_timeout.is_negative() {
            return Err(Error::invalid(format!(
                "Bad ConnectTimeout '{}', must be >= 0",
                self.connect_timeout
            )));
        }
        if self.request_timeout.is_negative() {
            return Err(Error::invalid(format!(
                "Bad RequestTimeout '{}', must be >= 0",
                self.request_timeout
            )));
        }
        Ok(())
    }
}

/// Consul's `validateServiceSubset`: a lower-case DNS label.
fn validate_subset_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() || name.len() > SUBSET_MAX_LENGTH {
        return Err("must be non-empty and 63 characters or fewer");
    }
    let label_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ok = name.chars().all(|c| label_char(c) || c == '-')
        && name.starts_with(label_char)
        && name.ends_with(label_char);
    if !ok {
        return Err(
            "must be 63 characters or fewer, begin or end with lower case alphanumeric characters, and contain lower case alphanumeric characters or '-' in between",
        );
    }
    Ok(())
}

// === impl ServiceResolverRedirect ===

impl ServiceResolverRedirect {
    fn is_empty(&self) -> bool {
        self == &ServiceResolverRedirect::default()
    }

    /// Community-edition limits on Enterprise fields.
    fn validate_enterprise(&self) -> std::result::Result<(), &'static str> {
        if !self.partition.is_empty() {
            return Err("Setting Partition requires Consul Enterprise");
        }
        if !self.namespace.is_empty() {
            return Err("Setting Namespace requires Consul Enterprise");
        }
        if !self.sameness_group.is_empty() {
            return Err("Setting SamenessGroup requires Consul Enterprise");
        }
        Ok(())
    }

    fn validate_without_service(&self) -> Result<()> {
        let field = if !self.service_subset.is_empty() {
            "ServiceSubset"
        } else if !self.namespace.is_empty() {
            "Namespace"
        } else if !self.partition.is_empty() {
            "Partition"
        } else if !self.peer.is_empty() {
            "Peer"
        } else {
            return Ok(());
        };
        Err(Error::invalid(format!(
            "Redirect.{field} defined without Redirect.Service"
        )))
    }
}

// === impl ServiceResolverFailover ===

impl ServiceResolverFailover {
    fn is_empty(&self) -> bool {
        self.service.is_empty()
            && self.service_subset.is_empty()
            && self.namespace.is_empty()
            && self.sameness_group.is_empty()
            && self.datacenters.is_empty()
            && self.targets.is_empty()
    }

    fn validate_enterprise(&self) -> std::result::Result<(), &'static str> {
        if !self.namespace.is_empty() {
            return Err("Setting Namespace requires Consul Enterprise");
        }
        if !self.sameness_group.is_empty() {
            return Err("Setting SamenessGroup requires Consul Enterprise");
        }
        if self.policy.as_ref().is_some_and(|p| !p.mode.is_empty()) {
            return Err("Setting failover policies requires Consul Enterprise");
        }
        Ok(())
    }
}

// === impl FailoverPolicy ===

impl FailoverPolicy {
    /// Checks `Mode`.
    pub fn validate(&self) -> Result<()> {
        match self.mode.as_str() {
            "" | "default" | "order-by-locality" => Ok(()),
            _ => Err(Error::invalid(
                "Failover-policy mode must be one of '', 'default', or 'order-by-locality'",
            )),
        }
    }
}

// === impl PrioritizeByLocality ===

impl PrioritizeByLocality {
    /// Community edition: any setting is refused.
    pub fn validate(&self) -> Result<()> {
        if self.mode.is_empty() {
            return Ok(());
        }
        Err(Error::invalid(
            "Prioritize-by-locality requires Consul Enterprise ",
        ))
    }
}
