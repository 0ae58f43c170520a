//! Cross-kind: nested group membership must not loop.

use std::collections::BTreeMap;

use petgraph::graph::DiGraph;

use crate::address::Kind;
use crate::path;
use crate::validate::Ctx;

/// Nested group membership must not loop.
pub(super) fn check_cycles(cx: &mut Ctx) {
    let mut graph = DiGraph::<String, ()>::new();
    let mut nodes = BTreeMap::new();
    for key in cx.state.group.keys() {
        nodes.insert(key.clone(), graph.add_node(key.clone()));
    }
    for (key, d) in &cx.state.group {
        for m in d.value.members.iter().flatten() {
            if let Ok(a) = cx.state.resolve(m, &[Kind::User, Kind::Guest, Kind::Group]) {
                if a.kind == Kind::Group {
                    graph.add_edge(nodes[key], nodes[&a.key], ());
                }
            }
        }
    }
    for scc in petgraph::algo::tarjan_scc(&graph) {
        let is_cycle = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
        if !is_cycle {
            continue;
        }
        let mut keys: Vec<String> = scc.iter().map(|n| graph[*n].clone()).collect();
        keys.sort();
        // Walk the cycle from its smallest key so the path reads in order.
        let start = keys[0].clone();
        let mut path_keys = vec![start.clone()];
        let mut current = start.clone();
        loop {
            let next = graph
                .neighbors(nodes[&current])
                .map(|n| graph[n].clone())
                .filter(|k| keys.contains(k))
                .min();
            match next {
                Some(n) if n == start || path_keys.contains(&n) => {
                    path_keys.push(n);
                    break;
                }
                Some(n) => {
                    path_keys.push(n.clone());
                    current = n;
                }
                None => break,
            }
        }
        let shown = path_keys
            .iter()
            .map(|k| format!("group.{k}"))
            .collect::<Vec<_>>()
            .join(" -> ");
        let origin = cx.state.group[&start].origin.clone();
        cx.error(
            "cycle",
            &origin,
            &path!["group", &start, "members"],
            format!("group membership forms a cycle: {shown}"),
        );
    }
}
