//! Validation of `service-intentions` entries (Consul's
//! `ServiceIntentionsConfigEntry.Validate` / `LegacyValidate`) and of legacy
//! intentions (`Intention.Validate`). Entry validation stops at the first
//! failure, in Consul's order; legacy validation collects every failure.

use std::collections::{BTreeMap, HashSet};

use crate::action::Action;
use crate::entry::{SOURCE_TYPE_CONSUL, ServiceIntentions, SourceIntention};
use crate::error::{Error, Invalid, Problem, Result};
use crate::legacy::Intention;
use crate::name::WILDCARD;
use crate::permission::JwtRequirement;
use crate::validate_http::validate_permissions;

/// Most metadata pairs allowed.
pub const META_MAX_PAIRS: usize = 64;
/// Longest metadata key allowed.
pub const META_KEY_MAX_LEN: usize = 128;
/// Longest metadata value (and description) allowed.
pub const META_VALUE_MAX_LEN: usize = 512;

/// Protocols on which L7 permissions are allowed (Consul's `IsProtocolHTTPLike`).
const HTTP_LIKE: [&str; 3] = ["http", "http2", "grpc"];

// === impl ServiceIntentions (validation) ===

impl ServiceIntentions {
    /// Validates an entry written through the config entry API. Run after
    /// [`Self::normalize`].
    pub fn validate(&self) -> Result<()> {
        self.validate_with(false)
    }

    /// Validates an entry written through the legacy API. Run after
    /// [`Self::legacy_normalize`].
    pub fn legacy_validate(&self) -> Result<()> {
        self.validate_with(true)
    }

    /// Consul refuses L7 permissions on a destination whose protocol is not
    /// HTTP-like (`http`, `http2`, `grpc`). The caller knows the effective
    /// protocol (service-defaults / proxy-defaults, else `tcp`) and calls this
    /// when the entry is written. Wildcard destinations are exempt: they cannot
    /// carry permissions at all.
    pub fn check_protocol(&self, protocol: &str) -> Result<()> {
        if self.has_wildcard_destination() || !self.has_any_permissions() {
            return Ok(());
        }
        if HTTP_LIKE.contains(&protocol) {
            return Ok(());
        }
        Err(Error::ProtocolNotHttp {
            service: self.destination().to_string(),
            protocol: protocol.to_owned(),
        })
    }

    fn validate_with(&self, legacy: bool) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::invalid("Name", Problem::Required));
        }
        check_wildcards("", &self.name, &self.namespace, &self.partition, "", "")?;
        if let Some(jwt) = &self.jwt {
            validate_jwt(jwt)?;
        }
        self.validate_meta(legacy)?;
        if self.sources.is_empty() {
            return Err(Error::invalid("Sources", Problem::NoSources));
        }
        let wild_dst = self.has_wildcard_destination();
        let mut seen = HashSet::new();
        for (i, src) in self.sources.iter().enumerate() {
            validate_source(i, src, legacy, wild_dst)?;
            check_duplicate(i, src, &mut seen)?;
        }
        Ok(())
    }

    fn validate_meta(&self, legacy: bool) -> Result<()> {
        if legacy && !self.meta.is_empty() {
            return Err(Error::invalid("Meta", Problem::OmitForLegacyWrites));
        }
        if legacy {
            return Ok(());
        }
        let failures = meta_failures("Meta", &self.meta);
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Multiple(failures))
        }
    }
}

/// Every rule of one source, in Consul's order.
fn validate_source(i: usize, src: &SourceIntention, legacy: bool, wild_dst: bool) -> Result<()> {
    let at = |field: &str| format!("Sources[{i}].{field}");
    if src.name.is_empty() {
        return Err(Error::invalid(at("Name"), Problem::Required));
    }
    if !src.sameness_group.is_empty() {
        return Err(Error::invalid(
            at("SamenessGroup"),
            Problem::SamenessGroupsEnterprise,
        ));
    }
    let prefix = format!("Sources[{i}].");
    check_wildcards(
        &prefix,
        &src.name,
        &src.namespace,
        &src.partition,
        &src.peer,
        "",
    )?;
    if !src.peer.is_empty() && !src.partition.is_empty() {
        return Err(Error::invalid(at("Peer"), Problem::PeerWithPartition));
    }
    if src.description.len() > META_VALUE_MAX_LEN {
        let max = META_VALUE_MAX_LEN;
        return Err(Error::invalid(at("Description"), Problem::TooLong { max }));
    }
    if legacy {
        validate_legacy_fields(i, src)?;
    } else {
        validate_no_legacy_fields(i, src)?;
    }
    validate_action(i, src, legacy, wild_dst)?;
    if src.source_type != SOURCE_TYPE_CONSUL {
        return Err(Error::invalid(at("Type"), Problem::MustBeConsul));
    }
    validate_permissions(i, &src.permissions)
}

/// Rules for a source written through the legacy API.
fn validate_legacy_fields(i: usize, src: &SourceIntention) -> Result<()> {
    let at = |field: &str| format!("Sources[{i}].{field}");
    if !src.peer.is_empty() {
        return Err(Error::invalid(at("Peer"), Problem::NotForLegacy));
    }
    if let Some(first) = meta_failures(&at("Meta"), &src.legacy_meta)
        .into_iter()
        .next()
    {
        return Err(first.into());
    }
    if src.legacy_create_time.is_none() {
        return Err(Error::invalid(at("LegacyCreateTime"), Problem::MustBeSet));
    }
    if src.legacy_update_time.is_none() {
        return Err(Error::invalid(at("LegacyUpdateTime"), Problem::MustBeSet));
    }
    if src.legacy_id.is_empty() {
        return Err(Error::invalid(at("LegacyID"), Problem::MustBeSet));
    }
    Ok(())
}

/// A config-entry write may not carry the legacy fields.
fn validate_no_legacy_fields(i: usize, src: &SourceIntention) -> Result<()> {
    let at = |field: &str| format!("Sources[{i}].{field}");
    let omitted = [
        ("LegacyMeta", !src.legacy_meta.is_empty()),
        ("LegacyCreateTime", src.legacy_create_time.is_some()),
        ("LegacyUpdateTime", src.legacy_update_time.is_some()),
        ("LegacyID", !src.legacy_id.is_empty()),
    ];
    match omitted.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(Error::invalid(at(field), Problem::MustBeOmitted)),
        None => Ok(()),
    }
}

/// L4 sources need `allow`/`deny`; L7 sources must leave it unset and may not
/// target a wildcard destination.
fn validate_action(i: usize, src: &SourceIntention, legacy: bool, wild_dst: bool) -> Result<()> {
    let at = |field: &str| format!("Sources[{i}].{field}");
    let has_perms = src.is_l7();
    if (legacy || !has_perms) && !src.action.as_ref().is_some_and(Action::is_valid) {
        return Err(Error::invalid(at("Action"), Problem::MustBeAllowOrDeny));
    }
    if has_perms && src.action.is_some() {
        return Err(Error::invalid(at("Action"), Problem::ActionWithPermissions));
    }
    if has_perms && wild_dst {
        let problem = Problem::PermissionsOnWildcardDestination;
        return Err(Error::invalid(at("Permissions"), problem));
    }
    Ok(())
}

/// A source may appear once per (peer, service name).
fn check_duplicate(
    i: usize,
    src: &SourceIntention,
    seen: &mut HashSet<(String, crate::ServiceName)>,
) -> Result<()> {
    let service = src.service();
    if seen.insert((src.peer.clone(), service.clone())) {
        return Ok(());
    }
    let peer = (!src.peer.is_empty()).then(|| src.peer.clone());
    let problem = Problem::DuplicateSource {
        name: service.to_string(),
        peer,
    };
    Err(Error::invalid(format!("Sources[{i}]"), problem))
}

/// Wildcard rules: `*` only as a whole value, never an exact name under a
/// wildcard namespace, and never in partitions, peers or sameness groups.
fn check_wildcards(
    prefix: &str,
    name: &str,
    namespace: &str,
    partition: &str,
    peer: &str,
    sameness_group: &str,
) -> Result<()> {
    let at = |field: &str| format!("{prefix}{field}");
    let ns_wild = namespace == WILDCARD;
    if !ns_wild && namespace.contains(WILDCARD) {
        return Err(Error::invalid(at("Namespace"), Problem::PartialWildcard));
    }
    if name != WILDCARD && name.contains(WILDCARD) {
        return Err(Error::invalid(at("Name"), Problem::PartialWildcard));
    }
    if name != WILDCARD && ns_wild {
        return Err(Error::invalid(
            at("Name"),
            Problem::ExactAfterWildcardNamespace,
        ));
    }
    let forbidden = [
        ("Partition", partition, "partition"),
        ("Peer", peer, "peer"),
        ("SamenessGroup", sameness_group, "sameness group"),
    ];
    for (field, value, what) in forbidden {
        if value.contains(WILDCARD) {
            return Err(Error::invalid(
                at(field),
                Problem::WildcardForbidden { what },
            ));
        }
    }
    Ok(())
}

/// Every JWT provider needs a name (reported Go-multierror style).
pub(crate) fn validate_jwt(jwt: &JwtRequirement) -> Result<()> {
    let failures: Vec<Invalid> = jwt
        .providers
        .iter()
        .filter(|p| p.name.is_empty())
        .map(|_| Invalid::new("JWT", Problem::JwtProviderName))
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Multiple(failures))
    }
}

/// Count, key-length and value-length limits of a metadata map.
fn meta_failures(field: &str, meta: &BTreeMap<String, String>) -> Vec<Invalid> {
    let mut out = Vec::new();
    if meta.len() > META_MAX_PAIRS {
        let max = META_MAX_PAIRS;
        out.push(Invalid::new(field, Problem::TooManyElements { max }));
    }
    for (k, v) in meta {
        if k.len() > META_KEY_MAX_LEN {
            let (key, max) = (k.clone(), META_KEY_MAX_LEN);
            out.push(Invalid::new(field, Problem::MetaKeyTooLong { key, max }));
        }
        if v.len() > META_VALUE_MAX_LEN {
            let (key, max) = (k.clone(), META_VALUE_MAX_LEN);
            out.push(Invalid::new(field, Problem::MetaValueTooLong { key, max }));
        }
    }
    out
}

// === impl Intention (validation) ===

impl Intention {
    /// Validates a legacy create/update body (Consul's `Intention.Validate`),
    /// reporting every failure at once. Run after [`Intention::fill_defaults`].
    pub fn validate(&self) -> Result<()> {
        let mut out = Vec::new();
        self.required_failures(&mut out);
        side_wildcards("Source", &self.source_ns, &self.source_name, &mut out);
        side_wildcards(
            "Destination",
            &self.destination_ns,
            &self.destination_name,
            &mut out,
        );
        if self.description.len() > META_VALUE_MAX_LEN {
            let max = META_VALUE_MAX_LEN;
            out.push(Invalid::new("Description", Problem::TooLong { max }));
        }
        out.extend(meta_failures("Meta", &self.meta));
        if !self.action.as_ref().is_some_and(Action::is_valid) {
            out.push(Invalid::new("Action", Problem::MustBeAllowOrDeny));
        }
        if !self.permissions.is_empty() {
            out.push(Invalid::new("Permissions", Problem::NotWithLegacyApi));
        }
        if self.source_type != SOURCE_TYPE_CONSUL {
            out.push(Invalid::new("SourceType", Problem::MustBeConsul));
        }
        if out.is_empty() {
            Ok(())
        } else {
            Err(Error::Multiple(out))
        }
    }

    fn required_failures(&self, out: &mut Vec<Invalid>) {
        let fields = [
            ("SourceNS", &self.source_ns),
            ("SourceName", &self.source_name),
            ("DestinationNS", &self.destination_ns),
            ("DestinationName", &self.destination_name),
        ];
        for (field, value) in fields {
            if value.is_empty() {
                out.push(Invalid::new(field, Problem::MustBeSet));
            }
        }
    }
}

/// Wildcard rules of one side (`Source`/`Destination`) of a legacy intention.
fn side_wildcards(side: &str, ns: &str, name: &str, out: &mut Vec<Invalid>) {
    if ns != WILDCARD && ns.contains(WILDCARD) {
        out.push(Invalid::new(format!("{side}NS"), Problem::PartialWildcard));
    }
    if name != WILDCARD {
        if name.contains(WILDCARD) {
            out.push(Invalid::new(
                format!("{side}Name"),
                Problem::PartialWildcard,
            ));
        }
        if ns == WILDCARD {
            let problem = Problem::ExactAfterWildcardNamespace;
            out.push(Invalid::new(format!("{side}Name"), problem));
        }
    }
}
