//! Heap bytes the catalog tables hold per service instance, counted by a
//! global allocator (deterministic, unlike RSS).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use skein_state::{Command, Op, Registration, Store};
use skein_types::{Check, CheckStatus, Node, ServiceInstance};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Allocations alive: each costs the allocator's own header and rounding
/// on top of the bytes asked for.
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Instance `svc` of node `node`, shaped like `cargo xtask bench catalog`'s.
fn registration(node: usize, svc: usize) -> Op {
    let name = format!("svc-{}", (node * 10 + svc) % 500);
    let id = format!("{name}-{node}-{svc}");
    Op::Register(Box::new(Registration {
        node: Node {
            node: format!("node-{node}").into(),
            address: format!("10.0.{}.{}", node / 256 % 256, node % 256).into(),
            ..Node::default()
        },
        skip_node_update: false,
        service: Some(ServiceInstance {
            id: id.clone().into(),
            service: name.into(),
            tags: vec!["v1".into()],
            port: 8000 + svc as u16,
            ..ServiceInstance::default()
        }),
        checks: vec![Check {
            check_id: format!("check-{svc}").into(),
            name: "alive".into(),
            status: CheckStatus::Passing,
            service_id: id.into(),
            ..Check::default()
        }],
    }))
}

#[test]
fn catalog_bytes_per_instance() {
    let (nodes, per_node) = (1_000, 10);
    let mut store = Store::new();
    let before = LIVE.load(Ordering::Relaxed);
    let blocks_before = BLOCKS.load(Ordering::Relaxed);
    let mut index = 0;
    for node in 0..nodes {
        for svc in 0..per_node {
            index += 1;
            let op = registration(node, svc);
            store.apply(index, &Command { at_ms: 0, op });
        }
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
    let per_instance = held as f64 / (nodes * per_node) as f64;
    let blocks = BLOCKS.load(Ordering::Relaxed) - blocks_before;
    let blocks_per_instance = blocks as f64 / (nodes * per_node) as f64;
    println!("catalog allocations per instance: {blocks_per_instance:.1}");
    println!("catalog heap per instance (with its node and check): {per_instance:.0} B");
    assert!(store.service_instances().1.len() == nodes * per_node);
    // The tables alone stay within issue 9's whole-server budget of 1 KiB
    // per instance (the log, snapshots and allocator come on top).
    assert!(per_instance < 1_024.0, "{per_instance:.0} B per instance");
    // Names up to 24 bytes are stored inline: what is left per instance is
    // the B-tree nodes, the tag lists and the node's share.
    assert!(
        blocks_per_instance < 6.0,
        "{blocks_per_instance:.1} allocations per instance"
    );
}
