//! The resource graph: edges from declared references, waves of changes
//! that can run together, and cycle detection that names the path.

use std::collections::BTreeMap;

use petgraph::graph::{DiGraph, NodeIndex};
use schema::Address;

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("dependency cycle: {}", .0.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<Address>),
    #[error("{from} depends on {to}, which is not declared")]
    Dangling { from: Address, to: Address },
}

/// Wave number of each node: 0 for nodes with no dependencies, else one
/// more than the highest wave among its dependencies. `deps` maps each node
/// to what it depends on; every dependency must itself be a key.
pub fn waves(deps: &BTreeMap<Address, Vec<Address>>) -> Result<BTreeMap<Address, u32>, GraphError> {
    let mut g = DiGraph::<Address, ()>::new();
    let mut idx: BTreeMap<&Address, NodeIndex> = BTreeMap::new();
    for a in deps.keys() {
        idx.insert(a, g.add_node(a.clone()));
    }
    for (a, ds) in deps {
        for d in ds {
            let Some(&to) = idx.get(d) else {
                return Err(GraphError::Dangling { from: a.clone(), to: d.clone() });
            };
            g.add_edge(to, idx[a], ());
        }
    }
    let order = petgraph::algo::toposort(&g, None).map_err(|c| GraphError::Cycle(cycle_path(&g, c.node_id())))?;
    let mut wave: BTreeMap<Address, u32> = BTreeMap::new();
    for n in order {
        let w = g
            .neighbors_directed(n, petgraph::Direction::Incoming)
            .map(|p| wave.get(&g[p]).copied().unwrap_or(0) + 1)
            .max()
            .unwrap_or(0);
        wave.insert(g[n].clone(), w);
    }
    Ok(wave)
}

/// A cycle through `start`, as a path that returns to it.
fn cycle_path(g: &DiGraph<Address, ()>, start: NodeIndex) -> Vec<Address> {
    // Depth-first search back to start, preferring the smallest next node
    // so the reported path is deterministic.
    fn dfs(g: &DiGraph<Address, ()>, at: NodeIndex, start: NodeIndex, path: &mut Vec<NodeIndex>) -> bool {
        let mut next: Vec<NodeIndex> = g.neighbors(at).collect();
        next.sort_by(|a, b| g[*a].cmp(&g[*b]));
        for n in next {
            if n == start {
                return true;
            }
            if path.contains(&n) {
                continue;
            }
            path.push(n);
            if dfs(g, n, start, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = vec![start];
    dfs(g, start, start, &mut path);
    let mut out: Vec<Address> = path.iter().map(|n| g[*n].clone()).collect();
    out.push(g[start].clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn waves_follow_dependencies() {
        let deps = BTreeMap::from([
            (a("user.u"), vec![]),
            (a("group.g"), vec![a("user.u")]),
            (a("update_ring.r"), vec![a("group.g")]),
            (a("group.h"), vec![]),
        ]);
        let w = waves(&deps).unwrap();
        assert_eq!(w[&a("user.u")], 0);
        assert_eq!(w[&a("group.g")], 1);
        assert_eq!(w[&a("update_ring.r")], 2);
        assert_eq!(w[&a("group.h")], 0);
    }

    #[test]
    fn cycles_are_named() {
        let deps = BTreeMap::from([(a("group.a"), vec![a("group.b")]), (a("group.b"), vec![a("group.a")])]);
        let e = waves(&deps).unwrap_err().to_string();
        assert!(e.contains("group.a -> group.b -> group.a") || e.contains("group.b -> group.a -> group.b"), "{e}");
    }
}
