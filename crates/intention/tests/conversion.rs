//! The legacy API's writes over service-intentions entries, and back.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use skein_intention::mutation::{
    delete_exact, legacy_create, legacy_delete, legacy_update, upsert_exact,
};
use skein_intention::query::{get_by_id, get_exact, list};
use skein_intention::{
    Action, Error, HttpPermission, Intention, IntentionPermission, ServiceIntentions, ServiceName,
    SourceIntention, Timestamp, Write,
};
use uuid::Uuid;

const ID1: &str = "11111111-2222-4333-8444-555555555555";
const ID2: &str = "66666666-7777-4888-9999-aaaaaaaaaaaa";

fn t(secs: i64) -> Timestamp {
    Timestamp::from_unix(secs, 0)
}

fn upserted(w: Write) -> ServiceIntentions {
    match w {
        Write::Upsert(e) => e,
        other => panic!("expected an upsert, got {other:?}"),
    }
}

fn create(
    entries: &[ServiceIntentions],
    src: &str,
    dst: &str,
    id: &str,
    now: i64,
) -> ServiceIntentions {
    let mut ixn = Intention::l4(src, dst, Action::Allow);
    ixn.description = format!("{src} to {dst}");
    ixn.meta.insert("via".into(), "legacy".into());
    let id = Uuid::parse_str(id).unwrap();
    upserted(legacy_create(entries, ixn, id, t(now)).unwrap())
}

#[test]
fn create_then_read_back() {
    let e = create(&[], "web", "api", ID1, 100);
    assert_eq!(e.name, "api");
    let src = &e.sources[0];
    assert_eq!(src.legacy_id, ID1);
    assert_eq!(src.legacy_create_time, Some(t(100)));
    assert_eq!(src.precedence, 9);

    let got = get_by_id([&e], ID1).unwrap().unwrap();
    assert_eq!(got.id, ID1);
    assert_eq!(
        (got.source_name.as_str(), got.destination_name.as_str()),
        ("web", "api")
    );
    assert_eq!(got.action, Some(Action::Allow));
    assert_eq!(got.description, "web to api");
    assert_eq!(got.meta["via"], "legacy");
    assert_eq!(got.created_at, Some(t(100)));

    let exact = get_exact(
        [&e],
        &ServiceName::local("web"),
        "",
        &ServiceName::local("api"),
    );
    assert_eq!(exact, Some(got));
}

#[test]
fn round_trip_keeps_every_legacy_field() {
    let e = create(&[], "web", "api", ID1, 100);
    let ixn = e.to_intention(&e.sources[0]);
    let mut back = ixn.to_source_intention(true);
    back.precedence = e.sources[0].precedence;
    assert_eq!(back, e.sources[0]);
}

#[test]
fn second_create_appends_and_duplicates_are_refused() {
    let e1 = create(&[], "web", "api", ID1, 100);
    let e2 = create(std::slice::from_ref(&e1), "*", "api", ID2, 200);
    let names: Vec<_> = e2
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.precedence))
        .collect();
    assert_eq!(names, [("web", 9), ("*", 8)]);

    let dup = Intention::l4("web", "api", Action::Deny);
    let err = legacy_create([&e2], dup, Uuid::nil(), t(300)).unwrap_err();
    assert_eq!(err.to_string(), "Sources[1] defines \"web\" more than once");
}

#[test]
fn update_keeps_create_time_and_refuses_moves() {
    let e = create(&[], "web", "api", ID1, 100);
    let mut ixn = Intention::l4("web", "api", Action::Deny);
    ixn.id = "ignored".into();
    let e = upserted(legacy_update([&e], ID1, ixn, t(500)).unwrap());
    let src = &e.sources[0];
    assert_eq!(src.action, Some(Action::Deny));
    assert_eq!(src.legacy_create_time, Some(t(100)));
    assert_eq!(src.legacy_update_time, Some(t(500)));

    let moved = Intention::l4("web", "db", Action::Deny);
    let err = legacy_update([&e], ID1, moved, t(600)).unwrap_err();
    assert_eq!(err, Error::DestinationChanged);

    let err =
        legacy_update([&e], ID2, Intention::l4("web", "api", Action::Deny), t(600)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Cannot modify non-existent intention: '{ID2}'")
    );
}

#[test]
fn delete_by_id_removes_source_then_entry() {
    let e1 = create(&[], "web", "api", ID1, 100);
    let e2 = create(&[e1], "*", "api", ID2, 200);
    let e3 = upserted(legacy_delete([&e2], ID2).unwrap());
    assert_eq!(e3.sources.len(), 1);
    assert_eq!(
        legacy_delete([&e3], ID1).unwrap(),
        Write::Delete(ServiceName::local("api"))
    );

    let err = legacy_delete([&e3], ID2).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Cannot delete non-existent intention: '{ID2}'")
    );
    let err = legacy_delete([&e3], "nope").unwrap_err();
    assert_eq!(err.to_string(), "UUID must be 36 characters");
}

#[test]
fn create_rejects_ids_peers_and_bad_bodies() {
    let mut ixn = Intention::l4("web", "api", Action::Allow);
    ixn.id = ID1.into();
    assert_eq!(
        legacy_create([], ixn, Uuid::nil(), t(1)).unwrap_err(),
        Error::IdOnCreate
    );

    let mut ixn = Intention::l4("web", "api", Action::Allow);
    ixn.source_peer = "east".into();
    assert_eq!(
        legacy_create([], ixn, Uuid::nil(), t(1)).unwrap_err(),
        Error::SourcePeerNotSupported
    );

    let ixn = Intention {
        source_name: "web".into(),
        destination_name: "api".into(),
        ..Intention::default()
    };
    let err = legacy_create([], ixn, Uuid::nil(), t(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 error occurred:\n\t* Action must be set to 'allow' or 'deny'\n\n"
    );
}

#[test]
fn upsert_by_name_creates_updates_and_converts() {
    // Consul refuses to convert a legacy source that carries meta (the meta
    // would be lost), so this one has none.
    let ixn = Intention::l4("web", "api", Action::Allow);
    let id = Uuid::parse_str(ID1).unwrap();
    let legacy = upserted(legacy_create([], ixn, id, t(100)).unwrap());

    // An L7 upsert through /exact keeps permissions and makes the entry a
    // config-entry style one (legacy IDs cleared).
    let http = HttpPermission {
        path_prefix: "/v1".into(),
        ..HttpPermission::default()
    };
    let mut ixn = Intention::l4("admin", "api", Action::Allow);
    ixn.action = None;
    ixn.permissions = vec![IntentionPermission::new(Action::Allow, http)];
    let e = upserted(upsert_exact([&legacy], ixn).unwrap());
    assert_eq!(e.sources.len(), 2);
    assert!(e.sources.iter().all(|s| s.legacy_id.is_empty()));
    assert!(e.sources[1].is_l7());

    // The legacy ID API is now locked out of this destination.
    let err = legacy_delete([&e], ID1).unwrap_err();
    assert!(matches!(err, Error::DeleteNonExistent { .. }));
    let err = legacy_create(
        [&e],
        Intention::l4("x", "api", Action::Allow),
        Uuid::nil(),
        t(1),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot use legacy intention API to edit intentions with a destination of \"api\" after editing them via a service-intentions config entry"
    );

    // Upserting the same source replaces it.
    let e = upserted(upsert_exact([&e], Intention::l4("admin", "api", Action::Deny)).unwrap());
    assert_eq!(e.sources.len(), 2);
    assert_eq!(e.sources[1].action, Some(Action::Deny));
}

#[test]
fn upsert_refuses_to_drop_legacy_meta() {
    let legacy = create(&[], "web", "api", ID1, 100);
    let err = upsert_exact([&legacy], Intention::l4("db", "api", Action::Allow)).unwrap_err();
    assert_eq!(err.to_string(), "Sources[0].LegacyMeta must be omitted");
}

#[test]
fn upsert_meta_rules() {
    let mut ixn = Intention::l4("web", "api", Action::Allow);
    ixn.meta.insert("a".into(), "b".into());
    assert_eq!(
        upsert_exact([], ixn.clone()).unwrap_err(),
        Error::MetaOnUpsert
    );

    let mut entry = ServiceIntentions::new("api");
    entry.sources.push(SourceIntention::l4("db", Action::Allow));
    entry.normalize();
    assert_eq!(
        upsert_exact([&entry], ixn.clone()).unwrap_err(),
        Error::MetaChangedOnUpsert
    );

    entry.meta.insert("a".into(), "b".into());
    let e = upserted(upsert_exact([&entry], ixn).unwrap());
    assert_eq!(e.meta["a"], "b");
    assert!(e.sources.iter().all(|s| s.legacy_meta.is_empty()));
}

#[test]
fn delete_by_name_is_idempotent() {
    let (web, api) = (ServiceName::local("web"), ServiceName::local("api"));
    assert_eq!(delete_exact([], &web, &api).unwrap(), Write::Unchanged);
    let e = upserted(upsert_exact([], Intention::l4("web", "api", Action::Allow)).unwrap());
    let e2 = upserted(upsert_exact([&e], Intention::l4("db", "api", Action::Allow)).unwrap());
    let e3 = upserted(delete_exact([&e2], &ServiceName::local("db"), &api).unwrap());
    assert_eq!(e3, e);
    assert_eq!(
        delete_exact([&e3], &ServiceName::local("db"), &api).unwrap(),
        Write::Unchanged
    );
    assert_eq!(delete_exact([&e3], &web, &api).unwrap(), Write::Delete(api));
}

#[test]
fn list_orders_across_entries() {
    let a = create(&[], "web", "api", ID1, 1);
    let b = upserted(upsert_exact([], Intention::l4("*", "*", Action::Deny)).unwrap());
    let c = upserted(upsert_exact([], Intention::l4("api", "db", Action::Allow)).unwrap());
    let got: Vec<_> = list([&a, &b, &c])
        .iter()
        .map(|i| format!("{}>{}:{}", i.source_name, i.destination_name, i.precedence))
        .collect();
    assert_eq!(got, ["api>db:9", "web>api:9", "*>*:5"]);
}
