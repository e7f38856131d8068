//! Behaviour of the state machine, driven through `Store::apply` only.

use skein_state::{Command, Op, Outcome, Registration, Store, Topic};
use skein_types::txn::KvVerb;
use skein_types::{Check, CheckStatus, Node, Session, SessionBehavior, TxnOp};

struct Log {
    store: Store,
    index: u64,
}

impl Log {
    fn new() -> Self {
        let mut log = Log {
            store: Store::new(),
            index: 0,
        };
        log.apply(Op::Register(Box::new(Registration {
            node: Node {
                node: "n1".into(),
                address: "127.0.0.1".into(),
                ..Node::default()
            },
            checks: vec![Check {
                check_id: "serfHealth".into(),
                status: CheckStatus::Passing,
                ..Check::default()
            }],
            ..Registration::default()
        })));
        log
    }

    fn apply_at(&mut self, at_ms: u64, op: Op) -> Outcome {
        self.index += 1;
        self.store.apply(self.index, &Command { at_ms, op })
    }

    fn apply(&mut self, op: Op) -> Outcome {
        self.apply_at(1_000, op)
    }

    fn set(&mut self, key: &str, value: &str) -> Outcome {
        self.apply(Op::KvSet {
            key: key.into(),
            value: value.into(),
            flags: 0,
        })
    }

    fn session(&mut self, id: &str, behavior: SessionBehavior, lock_delay_ms: u64) {
        let s = Session {
            id: id.into(),
            name: String::new(),
            node: "n1".into(),
            lock_delay_ns: lock_delay_ms * 1_000_000,
            behavior,
            ttl: String::new(),
            node_checks: vec!["serfHealth".into()],
            service_checks: vec![],
            create_index: 0,
            modify_index: 0,
        };
        assert_eq!(self.apply(Op::SessionCreate(s)), Outcome::Unit);
    }

    fn lock(&mut self, at: u64, key: &str, session: &str) -> Outcome {
        let op = Op::KvLock {
            key: key.into(),
            value: b"v".to_vec(),
            flags: 0,
            session: session.into(),
        };
        self.apply_at(at, op)
    }
}

#[test]
fn set_get_and_indexes() {
    let mut log = Log::new();
    log.set("a", "1");
    let created = log.index;
    log.set("a", "2");
    let (idx, e) = log.store.kv_get("a");
    let e = e.unwrap();
    assert_eq!(
        (e.create_index, e.modify_index, idx),
        (created, log.index, log.index)
    );
    assert_eq!(e.value, b"2");
}

#[test]
fn cas_zero_creates_only_once_and_stale_index_fails() {
    let mut log = Log::new();
    let cas = |index| Op::KvCas {
        key: "k".into(),
        value: b"x".to_vec(),
        flags: 0,
        index,
    };
    assert_eq!(log.apply(cas(0)), Outcome::Bool(true));
    assert_eq!(log.apply(cas(0)), Outcome::Bool(false));
    let current = log.store.kv_get("k").1.unwrap().modify_index;
    assert_eq!(log.apply(cas(current + 100)), Outcome::Bool(false));
    assert_eq!(log.apply(cas(current)), Outcome::Bool(true));
}

#[test]
fn lock_is_exclusive_and_release_needs_holder() {
    let mut log = Log::new();
    log.session("s1", SessionBehavior::Release, 0);
    log.session("s2", SessionBehavior::Release, 0);
    assert_eq!(log.lock(1, "l", "s1"), Outcome::Bool(true));
    assert_eq!(log.lock(1, "l", "s2"), Outcome::Bool(false));
    let unlock = |s: &str| Op::KvUnlock {
        key: "l".into(),
        value: vec![],
        flags: 0,
        session: s.into(),
    };
    assert_eq!(log.apply(unlock("s2")), Outcome::Bool(false));
    assert_eq!(log.apply(unlock("s1")), Outcome::Bool(true));
    let e = log.store.kv_get("l").1.unwrap();
    assert_eq!((e.session, e.lock_index), (None, 1));
    assert!(matches!(log.lock(1, "l", "nope"), Outcome::Refused(_)));
}

#[test]
fn destroying_a_session_releases_or_deletes_and_lock_delay_holds() {
    let mut log = Log::new();
    log.session("rel", SessionBehavior::Release, 15_000);
    log.session("del", SessionBehavior::Delete, 0);
    log.lock(1_000, "a", "rel");
    log.lock(1_000, "b", "del");
    log.apply_at(2_000, Op::SessionDestroy { id: "rel".into() });
    log.apply_at(2_000, Op::SessionDestroy { id: "del".into() });
    assert_eq!(log.store.kv_get("a").1.unwrap().session, None);
    assert!(log.store.kv_get("b").1.is_none());
    log.session("s3", SessionBehavior::Release, 0);
    assert_eq!(
        log.lock(16_999, "a", "s3"),
        Outcome::Bool(false),
        "lock-delay holds"
    );
    assert_eq!(
        log.lock(17_001, "a", "s3"),
        Outcome::Bool(true),
        "lock-delay over"
    );
}

#[test]
fn critical_node_check_invalidates_sessions() {
    let mut log = Log::new();
    log.session("s", SessionBehavior::Release, 0);
    log.lock(1, "k", "s");
    log.apply(Op::Register(Box::new(Registration {
        node: Node {
            node: "n1".into(),
            address: "127.0.0.1".into(),
            ..Node::default()
        },
        checks: vec![Check {
            check_id: "serfHealth".into(),
            status: CheckStatus::Critical,
            ..Check::default()
        }],
        ..Registration::default()
    })));
    assert!(log.store.session_get("s").1.is_none());
    assert_eq!(log.store.kv_get("k").1.unwrap().session, None);
}

#[test]
fn txn_is_all_or_nothing() {
    let mut log = Log::new();
    log.set("keep", "old");
    let kv = |verb, key: &str, index| TxnOp::Kv {
        verb,
        key: key.into(),
        value: b"new".to_vec(),
        flags: 0,
        index,
        session: String::new(),
    };
    let ops = vec![
        kv(KvVerb::Set, "keep", 0),
        kv(KvVerb::Delete, "keep", 0),
        kv(KvVerb::Cas, "x", 999),
    ];
    let before = log.store.snapshot();
    let watch = log.store.watch(&[Topic::Kv("keep".into())]);
    match log.apply(Op::Txn(ops)) {
        Outcome::Txn(Err(errs)) => assert_eq!(errs[0].op_index, 2),
        other => panic!("unexpected {other:?}"),
    }
    let after = log.store.snapshot();
    assert_eq!(
        (before.kv_len(), log.store.kv_get("keep").1.unwrap().value),
        (1, b"old".to_vec())
    );
    assert_eq!(after.index, log.index);
    let waker = futures_noop_poll(watch);
    assert!(!waker, "a rolled-back txn wakes nobody");
}

#[test]
fn snapshot_restore_round_trips() {
    let mut log = Log::new();
    log.set("a/1", "x");
    log.session("s", SessionBehavior::Release, 0);
    log.lock(1, "a/2", "s");
    let snap = log.store.snapshot();
    let json = serde_json::to_vec(&snap).unwrap();
    let mut other = Store::new();
    other.restore_data(serde_json::from_slice(&json).unwrap());
    assert_eq!(other.snapshot(), snap);
    assert_eq!(other.kv_list("a/").1, log.store.kv_list("a/").1);
}

#[test]
fn keys_roll_up_at_separator() {
    let mut log = Log::new();
    for k in ["base/base/foo", "base/base/bar", "base/foo", "other"] {
        log.set(k, "v");
    }
    assert_eq!(
        log.store.kv_keys("base/", "/").1,
        vec!["base/base/", "base/foo"]
    );
}

#[test]
fn prefix_index_moves_on_delete() {
    let mut log = Log::new();
    log.set("p/a", "1");
    log.set("q", "1");
    let (i1, _) = log.store.kv_list("p/");
    log.apply(Op::KvDelete { key: "p/a".into() });
    let (i2, entries) = log.store.kv_list("p/");
    assert!(entries.is_empty() && i2 > i1);
}

fn futures_noop_poll(w: skein_state::Watch) -> bool {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let mut w = std::pin::pin!(w);
    let mut cx = Context::from_waker(Waker::noop());
    matches!(w.as_mut().poll(&mut cx), Poll::Ready(()))
}

#[test]
fn a_batch_applies_each_op_in_order_at_one_index() {
    let mut log = Log::new();
    let cas = |value: &str| Op::KvCas {
        key: "b".into(),
        value: value.into(),
        flags: 0,
        index: 0,
    };
    let outcome = log.apply(Op::Batch(vec![
        cas("first"),
        cas("second"),
        Op::KvSet {
            key: "c".into(),
            value: b"x".to_vec(),
            flags: 0,
        },
    ]));
    assert_eq!(
        outcome,
        Outcome::Batch(vec![
            Outcome::Bool(true),
            Outcome::Bool(false),
            Outcome::Bool(true)
        ])
    );
    let (b, c) = (
        log.store.kv_get("b").1.unwrap(),
        log.store.kv_get("c").1.unwrap(),
    );
    assert_eq!(
        (b.value, b.modify_index, c.modify_index),
        (b"first".to_vec(), log.index, log.index)
    );
}

#[test]
fn the_service_name_index_follows_renames_removals_and_rollbacks() {
    let mut log = Log::new();
    let reg = |name: &str| {
        Op::Register(Box::new(Registration {
            node: Node {
                node: "n1".into(),
                address: "127.0.0.1".into(),
                ..Node::default()
            },
            skip_node_update: true,
            service: Some(skein_types::ServiceInstance {
                id: "i1".into(),
                service: name.into(),
                ..Default::default()
            }),
            checks: vec![],
        }))
    };
    log.apply(reg("a"));
    assert_eq!(log.store.service_nodes("a").1.len(), 1);
    log.apply(reg("b"));
    assert!(log.store.service_nodes("a").1.is_empty(), "renamed away");
    assert_eq!(log.store.service_nodes("b").1.len(), 1);
    let bad = TxnOp::Kv {
        verb: KvVerb::Cas,
        key: "x".into(),
        value: vec![],
        flags: 0,
        index: 99,
        session: String::new(),
    };
    let rename = TxnOp::Service {
        verb: skein_types::txn::CatalogVerb::Set,
        node: "n1".into(),
        service: skein_types::ServiceInstance {
            id: "i1".into(),
            service: "c".into(),
            ..Default::default()
        },
    };
    log.apply(Op::Txn(vec![rename, bad]));
    assert_eq!(
        log.store.service_nodes("b").1.len(),
        1,
        "a rolled-back rename leaves the index alone"
    );
    assert!(log.store.service_nodes("c").1.is_empty());
    log.apply(Op::Deregister {
        node: "n1".into(),
        service_id: None,
        check_id: None,
    });
    assert!(
        log.store.service_nodes("b").1.is_empty(),
        "node removal drops its services"
    );
}

fn instance(node: &str, id: &str, name: &str, extra: serde_json::Value) -> Op {
    let extra: std::collections::BTreeMap<String, serde_json::Value> = match extra {
        serde_json::Value::Object(m) => m.into_iter().collect(),
        _ => Default::default(),
    };
    Op::Register(Box::new(Registration {
        node: Node {
            node: node.into(),
            address: "127.0.0.1".into(),
            ..Node::default()
        },
        skip_node_update: true,
        service: Some(skein_types::ServiceInstance {
            id: id.into(),
            service: name.into(),
            kind: if extra.contains_key("Proxy") {
                "connect-proxy".into()
            } else {
                String::new().into()
            },
            extra,
            ..Default::default()
        }),
        checks: vec![],
    }))
}

#[test]
fn service_reads_carry_their_own_index_and_wake_only_their_watchers() {
    let mut log = Log::new();
    log.apply(instance("n1", "web1", "web", serde_json::json!({})));
    log.apply(instance("n1", "db1", "db", serde_json::json!({})));
    let web_at = log.store.service_index("web");
    assert_eq!(log.store.health_service("web").0, web_at);
    assert!(web_at < log.store.service_index("db"));

    let web = log.store.watch(&[Topic::Service("web".into())]);
    let db = log.store.watch(&[Topic::Service("db".into())]);
    log.apply(instance("n1", "db2", "db", serde_json::json!({})));
    assert!(!web.is_fired(), "a db write leaves web's watchers parked");
    assert!(db.is_fired());
    assert_eq!(log.store.service_index("web"), web_at, "web's index stays");

    // A proxy for web moves web's index (its mesh instances changed).
    let web = log.store.watch(&[Topic::Service("web".into())]);
    let proxy = serde_json::json!({"Proxy": {"DestinationServiceName": "web"}});
    log.apply(instance("n1", "web1-proxy", "web-sidecar-proxy", proxy));
    assert!(web.is_fired());
    assert_eq!(log.store.service_index("web"), log.index);
    let (i, mesh) = log.store.health_connect("web");
    assert_eq!((i, mesh.len()), (log.index, 1));
    assert_eq!(log.store.instance_health("web", true).len(), 1);

    // A node check reaches every service on the node.
    let db = log.store.watch(&[Topic::Service("db".into())]);
    log.apply(Op::Register(Box::new(Registration {
        node: Node {
            node: "n1".into(),
            ..Node::default()
        },
        skip_node_update: true,
        service: None,
        checks: vec![Check {
            check_id: "serfHealth".into(),
            status: CheckStatus::Critical,
            ..Check::default()
        }],
    })));
    assert!(db.is_fired());
    assert_eq!(log.store.service_index("db"), log.index);
    assert_eq!(log.store.service_index("web"), log.index);

    // The last instance gone: the index falls back to the catalog's, which
    // never goes backwards.
    let before = log.store.service_index("db");
    for id in ["db1", "db2"] {
        log.apply(Op::Deregister {
            node: "n1".into(),
            service_id: Some(id.into()),
            check_id: None,
        });
    }
    assert!(log.store.service_nodes("db").1.is_empty());
    assert_eq!(log.store.service_index("db"), log.store.catalog_index());
    assert!(log.store.service_index("db") > before);
}
