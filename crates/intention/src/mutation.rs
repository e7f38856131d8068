//! The writes of the legacy intention API, computed over the entries the
//! caller holds: create/update/delete by legacy ID (`/v1/connect/intentions`
//! and `/:id`) and upsert/delete by name (`/exact`). Each returns the
//! [`Write`] to apply; IDs and timestamps are passed in (no RNG, no clock).

use crate::entry::ServiceIntentions;
use crate::error::{Error, Result};
use crate::legacy::Intention;
use crate::name::ServiceName;
use crate::query::{entry_for, find_legacy};
use crate::time::Timestamp;

/// What the store must do to apply a mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store this entry (create or replace; raft indexes are the store's).
    Upsert(ServiceIntentions),
    /// Delete the entry of this destination (its last source went away).
    Delete(ServiceName),
    /// Nothing to do (by-name deletes are idempotent).
    Unchanged,
}

/// Legacy create (`POST /v1/connect/intentions`): appends `ixn` as a new
/// source with legacy ID `id`, created and updated `now`. The caller
/// generates `id` (a UUID no other intention uses) and returns it as `{"ID"}`.
pub fn legacy_create<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    mut ixn: Intention,
    id: uuid::Uuid,
    now: Timestamp,
) -> Result<Write> {
    reject_peer(&ixn)?;
    if !ixn.id.is_empty() {
        return Err(Error::IdOnCreate);
    }
    ixn.fill_defaults();
    ixn.id = id.hyphenated().to_string();
    ixn.validate()?;
    let source = legacy_source(&ixn, now);
    let prev = entry_for(entries, &ixn.destination());
    let mut next = match prev {
        Some(prev) => {
            check_legacy_allowed(prev)?;
            prev.clone()
        }
        None => ixn.empty_entry(),
    };
    next.sources.push(source);
    finish_legacy(next, prev)
}

/// Legacy update (`PUT /v1/connect/intentions/:id`): replaces the source
/// with legacy ID `id`. The destination cannot change; the creation time is kept.
pub fn legacy_update<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    id: &str,
    mut ixn: Intention,
    now: Timestamp,
) -> Result<Write> {
    reject_peer(&ixn)?;
    check_id(id)?;
    let not_found = || Error::UpdateNonExistent { id: id.to_owned() };
    let (prev, _) = find_legacy(entries, id).ok_or_else(not_found)?;
    ixn.fill_defaults();
    if prev.destination() != ixn.destination() {
        return Err(Error::DestinationChanged);
    }
    id.clone_into(&mut ixn.id);
    ixn.validate()?;
    check_legacy_allowed(prev)?;
    let mut next = prev.clone();
    let slot = next.sources.iter_mut().find(|s| s.legacy_id == id);
    *slot.ok_or_else(not_found)? = legacy_source(&ixn, now);
    finish_legacy(next, Some(prev))
}

/// Legacy delete (`DELETE /v1/connect/intentions/:id`).
pub fn legacy_delete<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    id: &str,
) -> Result<Write> {
    check_id(id)?;
    let not_found = || Error::DeleteNonExistent { id: id.to_owned() };
    let (prev, _) = find_legacy(entries, id).ok_or_else(not_found)?;
    check_legacy_allowed(prev)?;
    let mut next = prev.clone();
    next.sources.retain(|s| s.legacy_id != id);
    if next.sources.is_empty() {
        return Ok(Write::Delete(prev.destination()));
    }
    finish_legacy(next, Some(prev))
}

/// Upsert by name (`PUT /v1/connect/intentions/exact`): sets the source
/// named by `ixn` on its destination's entry, creating the entry if needed.
/// Permissions are kept; the entry becomes a config-entry style entry
/// (legacy IDs are cleared, as Consul's normalization does).
pub fn upsert_exact<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    mut ixn: Intention,
) -> Result<Write> {
    reject_peer(&ixn)?;
    if !ixn.id.is_empty() {
        return Err(Error::IdOnUpsert);
    }
    ixn.fill_defaults();
    let prev = entry_for(entries, &ixn.destination());
    check_upsert_meta(&ixn, prev)?;
    ixn.meta.clear();
    let source = ixn.to_source_intention(false);
    let mut next = prev.cloned().unwrap_or_else(|| ixn.empty_entry());
    let name = source.service();
    match next.sources.iter_mut().find(|s| s.service() == name) {
        Some(slot) => *slot = source,
        None => next.sources.push(source),
    }
    next.normalize();
    next.validate()?;
    finish(next, prev)
}

/// Delete by name (`DELETE /v1/connect/intentions/exact`). Idempotent.
pub fn delete_exact<'a>(
    entries: impl IntoIterator<Item = &'a ServiceIntentions>,
    source: &ServiceName,
    destination: &ServiceName,
) -> Result<Write> {
    let Some(prev) = entry_for(entries, destination) else {
        return Ok(Write::Unchanged);
    };
    let mut next = prev.clone();
    let Some(pos) = next.sources.iter().position(|s| &s.service() == source) else {
        return Ok(Write::Unchanged);
    };
    next.sources.remove(pos);
    if next.sources.is_empty() {
        return Ok(Write::Delete(prev.destination()));
    }
    next.normalize();
    next.validate()?;
    finish(next, Some(prev))
}

/// The source of a legacy write, stamped `now` (an update's creation time
/// is restored from the previous entry by `update_over`).
fn legacy_source(ixn: &Intention, now: Timestamp) -> crate::SourceIntention {
    let mut src = ixn.to_source_intention(true);
    src.legacy_create_time = Some(now.clone());
    src.legacy_update_time = Some(now);
    src
}

fn finish_legacy(mut next: ServiceIntentions, prev: Option<&ServiceIntentions>) -> Result<Write> {
    next.legacy_normalize();
    next.legacy_validate()?;
    finish(next, prev)
}

fn finish(mut next: ServiceIntentions, prev: Option<&ServiceIntentions>) -> Result<Write> {
    if let Some(prev) = prev {
        next.update_over(prev)?;
    }
    Ok(Write::Upsert(next))
}

fn reject_peer(ixn: &Intention) -> Result<()> {
    if ixn.source_peer.is_empty() {
        Ok(())
    } else {
        Err(Error::SourcePeerNotSupported)
    }
}

/// Once an entry has a source without legacy ID, the legacy API may not edit it.
fn check_legacy_allowed(prev: &ServiceIntentions) -> Result<()> {
    if prev.legacy_ids_all_set() {
        return Ok(());
    }
    let destination = prev.destination().to_string();
    Err(Error::LegacyEditAfterConfigEntry { destination })
}

/// Meta belongs to the entry: an upsert may only repeat the entry's own meta.
fn check_upsert_meta(ixn: &Intention, prev: Option<&ServiceIntentions>) -> Result<()> {
    match prev {
        _ if ixn.meta.is_empty() => Ok(()),
        None => Err(Error::MetaOnUpsert),
        Some(prev) if prev.meta == ixn.meta => Ok(()),
        Some(_) => Err(Error::MetaChangedOnUpsert),
    }
}

/// Legacy IDs are UUIDs; Consul's lookup rejects anything else with a
/// message mentioning "UUID" (its HTTP layer turns that into a 400).
pub fn check_id(id: &str) -> Result<()> {
    if id.len() != 36 {
        let reason = "UUID must be 36 characters".to_owned();
        return Err(Error::BadId { reason });
    }
    match uuid::Uuid::try_parse(id) {
        Ok(_) => Ok(()),
        Err(e) => Err(Error::BadId {
            reason: format!("Invalid UUID: {e}"),
        }),
    }
}
