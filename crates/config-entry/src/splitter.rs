//! `service-splitter`: weighted traffic splits between services or subsets.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::serde_util::{nil_if_empty, null_as_empty, serialize_weight};
use crate::shared::{HttpHeaderModifiers, validate_meta};

/// Splits are weighed in units of 0.01%: the weights must sum to this.
const MAX_SCALED_WEIGHT: i64 = 100 * 100;

/// A `service-splitter` config entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceSplitter {
    /// The service whose traffic is split.
    #[serde(default)]
    pub name: String,
    /// The splits; weights sum to 100.
    #[serde(
        default,
        serialize_with = "nil_if_empty",
        deserialize_with = "null_as_empty"
    )]
    pub splits: Vec<ServiceSplit>,
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

/// One leg of a split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServiceSplit {
    /// Percentage of traffic, 0–100 with 0.01 resolution.
    #[serde(default, serialize_with = "serialize_weight")]
    pub weight: f32,
    /// Target service (default: the splitter's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// Target subset.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_subset: String,
    /// Target namespace (Enterprise; ignored here).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Target partition (Enterprise; ignored here).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Request header edits for this leg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<HttpHeaderModifiers>,
    /// Response header edits for this leg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<HttpHeaderModifiers>,
}

// === impl ServiceSplitter ===

impl ServiceSplitter {
    /// Consul's `Normalize`: rounds every weight to 0.01.
    pub fn normalize(&mut self) {
        for split in &mut self.splits {
            split.weight = normalize_split_weight(split.weight);
        }
    }

    /// Consul's `Validate`.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("Name is required"));
        }
        if self.splits.is_empty() {
            return Err(Error::invalid("no splits configured"));
        }
        validate_meta(&self.meta)?;
        self.check_duplicates()?;
        let sum: i64 = self.splits.iter().map(|s| scale_weight(s.weight)).sum();
        if sum != MAX_SCALED_WEIGHT {
            #[allow(clippy::cast_precision_loss)]
            let shown = sum as f32 / 100.0;
            return Err(Error::invalid(format!(
                "the sum of all split weights must be 100, not {shown:.6}"
            )));
        }
        Ok(())
    }

    /// Consul compares splits by value with header pointers included, so legs
    /// that carry header edits are never duplicates of each other.
    fn check_duplicates(&self) -> Result<()> {
        let mut found = BTreeSet::new();
        for split in &self.splits {
            if split.request_headers.is_some() || split.response_headers.is_some() {
                continue;
            }
            let service = if split.service.is_empty() {
                &self.name
            } else {
                &split.service
            };
            let key = (
                service,
                &split.service_subset,
                &split.namespace,
                &split.partition,
            );
            if !found.insert(key) {
                return Err(Error::invalid(format!(
                    "split destination occurs more than once: service={service:?}, subset={:?}, namespace={:?}, partition={:?}",
                    split.service_subset, split.namespace, split.partition
                )));
            }
        }
        Ok(())
    }

    /// Services this splitter sends traffic to, besides itself.
    pub fn related_services(&self) -> BTreeSet<String> {
        self.splits
            .iter()
            .map(|s| s.service.as_str())
            .filter(|s| !s.is_empty() && *s != self.name)
            .map(str::to_string)
            .collect()
    }
}

// === impl ServiceSplit ===

impl ServiceSplit {
    /// Consul's `MergeParent`: the leg that results from flattening `parent`
    /// (a leg pointing at another splitter) into `self` (a leg of that
    /// splitter). Request edits of the child win; response edits of the
    /// parent win, since responses pass the parent last.
    pub fn merge_parent(&self, parent: &ServiceSplit) -> ServiceSplit {
        let mut merged = self.clone();
        merged.request_headers = HttpHeaderModifiers::merge(
            parent.request_headers.as_ref(),
            self.request_headers.as_ref(),
        );
        merged.response_headers = HttpHeaderModifiers::merge(
            self.response_headers.as_ref(),
            parent.response_headers.as_ref(),
        );
        merged
    }
}

/// Weight in units of 0.01% (Consul's `scaleWeight`, float32 arithmetic included).
pub fn scale_weight(weight: f32) -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let scaled = f64::from(weight * 100.0).round() as i64;
    scaled
}

/// Rounds a weight to 0.01 (Consul's `NormalizeServiceSplitWeight`).
pub fn normalize_split_weight(weight: f32) -> f32 {
    #[allow(clippy::cast_precision_loss)]
    let scaled = scale_weight(weight) as f32;
    scaled / 100.0
}
