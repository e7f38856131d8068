//! Whole-graph passes after assembly: cycle detection, splitter flattening
//! and pruning of unreachable nodes.

use std::collections::BTreeSet;

use skein_config_entry::normalize_split_weight;

use super::Compiler;
use crate::chain::DiscoverySplit;
use crate::error::{Error, Result};

/// Stack marker: leave the node on top of the current path.
const POP_VISIT: &str = "_popvisit";

// === impl Compiler ===

impl Compiler<'_, '_> {
    /// Depth-first walk from the start node; a node met again on the current
    /// path is a cycle (Consul's message lists the path).
    pub(super) fn detect_circular_references(&self) -> Result<()> {
        let mut todo = vec![self.start_node.clone()];
        let mut path: Vec<String> = Vec::new();
        let mut on_path = BTreeSet::new();
        while let Some(current) = todo.pop() {
            if current == POP_VISIT {
                if let Some(left) = path.pop() {
                    on_path.remove(&left);
                }
                continue;
            }
            path.push(current.clone());
            if !on_path.insert(current.clone()) {
                return Err(Error::graph(format!(
                    "detected circular reference: [{}]",
                    path.join(" -> ")
                )));
            }
            todo.push(POP_VISIT.to_string());
            if let Some(node) = self.nodes.get(&current) {
                todo.extend(node.next_nodes().into_iter().map(str::to_string));
            }
        }
        Ok(())
    }

    /// Replaces legs that lead to another splitter by that splitter's legs,
    /// with weights multiplied and definitions merged, until none is left.
    pub(super) fn flatten_adjacent_splitters(&mut self) {
        loop {
            let mut changed = false;
            let keys: Vec<String> = self.nodes.keys().cloned().collect();
            for key in keys {
                if let Some(splits) = self.flattened_splits(&key) {
                    if let Some(node) = self.nodes.get_mut(&key) {
                        node.splits = splits;
                    }
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// The splits of splitter `key` with one level of nesting flattened, or
    /// `None` when no leg leads to a splitter.
    fn flattened_splits(&self, key: &str) -> Option<Vec<DiscoverySplit>> {
        let node = self.nodes.get(key).filter(|n| n.is_splitter())?;
        let mut changed = false;
        let mut out = Vec::with_capacity(node.splits.len());
        for split in &node.splits {
            let inner = self.nodes.get(&split.next_node).filter(|n| n.is_splitter());
            let Some(inner) = inner else {
                out.push(split.clone());
                continue;
            };
            changed = true;
            for leg in &inner.splits {
                let definition = match (&leg.definition, &split.definition) {
                    (Some(child), Some(parent)) => Some(child.merge_parent(parent)),
                    (child, parent) => child.clone().or_else(|| parent.clone()),
                };
                out.push(DiscoverySplit {
                    definition,
                    weight: normalize_split_weight(split.weight * leg.weight / 100.0),
                    next_node: leg.next_node.clone(),
                });
            }
        }
        changed.then_some(out)
    }

    /// Drops nodes the start node no longer reaches (e.g. inner splitters).
    pub(super) fn remove_unused_nodes(&mut self) -> Result<()> {
        let mut visited = BTreeSet::new();
        let mut todo = vec![self.start_node.clone()];
        while let Some(next) = todo.pop() {
            if !visited.insert(next.clone()) {
                continue;
            }
            let Some(node) = self.nodes.get(&next) else {
                return Err(Error::graph(format!(
                    "compilation references non-retained node {next:?}"
                )));
            };
            todo.extend(node.next_nodes().into_iter().map(str::to_string));
        }
        self.nodes.retain(|key, _| visited.contains(key));
        Ok(())
    }
}
