//! Intention precedence: the more exact the destination, then the source, the
//! higher the number (9 for exact→exact down to 1 for `*/*`→`*/*`), and the
//! order Consul lists intentions in.
//!
//! | source ns/name | destination ns/name | precedence |
//! |----------------|---------------------|-----------:|
//! | exact/exact    | exact/exact         | 9 |
//! | exact/`*`      | exact/exact         | 8 |
//! | `*`/`*`        | exact/exact         | 7 |
//! | exact/exact    | exact/`*`           | 6 |
//! | exact/`*`      | exact/`*`           | 5 |
//! | `*`/`*`        | exact/`*`           | 4 |
//! | exact/exact    | `*`/`*`             | 3 |
//! | exact/`*`      | `*`/`*`             | 2 |
//! | `*`/`*`        | `*`/`*`             | 1 |
//!
//! Peers, partitions and sameness groups do not change precedence.

use std::cmp::Ordering;

use crate::legacy::Intention;
use crate::name::WILDCARD;

/// Precedence of an intention from `src_ns/src_name` to `dst_ns/dst_name`
/// (namespaces already defaulted).
pub fn precedence(src_ns: &str, src_name: &str, dst_ns: &str, dst_name: &str) -> i32 {
    let max = match count_exact(dst_ns, dst_name) {
        2 => 9,
        1 => 6,
        _ => 3,
    };
    max - (2 - count_exact(src_ns, src_name))
}

/// How many of (namespace, name) are exact. A wildcard namespace implies a
/// wildcard name (`*/foo` is invalid), so the answer is 0, 1 or 2.
fn count_exact(ns: &str, name: &str) -> i32 {
    if ns == WILDCARD {
        0
    } else if name == WILDCARD {
        1
    } else {
        2
    }
}

/// Consul's listing order: precedence descending, then (sameness group, peer,
/// source partition, source namespace, source name, destination partition,
/// destination namespace, destination name) ascending.
pub fn compare(a: &Intention, b: &Intention) -> Ordering {
    b.precedence
        .cmp(&a.precedence)
        .then_with(|| tie_key(a).cmp(&tie_key(b)))
}

/// Sorts intentions into Consul's listing order.
pub fn sort(intentions: &mut [Intention]) {
    intentions.sort_by(compare);
}

fn tie_key(x: &Intention) -> [&str; 8] {
    [
        &x.source_sameness_group,
        &x.source_peer,
        &x.source_partition,
        &x.source_ns,
        &x.source_name,
        &x.destination_partition,
        &x.destination_ns,
        &x.destination_name,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per line of Consul's documented precedence table.
    #[test]
    fn documented_table() {
        let rows = [
            (("default", "web"), ("default", "db"), 9),
            (("default", "*"), ("default", "db"), 8),
            (("*", "*"), ("default", "db"), 7),
            (("default", "web"), ("default", "*"), 6),
            (("default", "*"), ("default", "*"), 5),
            (("*", "*"), ("default", "*"), 4),
            (("default", "web"), ("*", "*"), 3),
            (("default", "*"), ("*", "*"), 2),
            (("*", "*"), ("*", "*"), 1),
        ];
        for ((sns, sn), (dns, dn), want) in rows {
            assert_eq!(
                precedence(sns, sn, dns, dn),
                want,
                "{sns}/{sn} => {dns}/{dn}"
            );
        }
    }

    #[test]
    fn sort_by_precedence_then_names() {
        let mut ixns = vec![
            with_prec("b", "db", 9),
            with_prec("*", "db", 8),
            with_prec("a", "db", 9),
            with_prec("a", "*", 6),
        ];
        sort(&mut ixns);
        let got: Vec<_> = ixns
            .iter()
            .map(|i| (i.source_name.as_str(), i.destination_name.as_str()))
            .collect();
        assert_eq!(got, [("a", "db"), ("b", "db"), ("*", "db"), ("a", "*")]);
    }

    fn with_prec(src: &str, dst: &str, precedence: i32) -> Intention {
        Intention {
            precedence,
            ..Intention::l4(src, dst, crate::Action::Allow)
        }
    }
}
