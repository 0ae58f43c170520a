//! Permission rules for the requests in `requests.txt`, from
//! permissions.json (and the docs table for what it lacks), and the
//! smallest documented set covering tenantctl's own requests.

use crate::tables::{DOCS_LEAST, DOC_RULES, EXCLUDED_FROM_DOCUMENTED};
use graph_metadata::model::RequestRule;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Lower-case, `{anything}` -> `{id}`, no `$ref`, no function arguments.
pub fn norm(path: &str) -> String {
    let mut segs: Vec<String> = Vec::new();
    for s in path.split('/').filter(|s| !s.is_empty()) {
        if s == "$ref" {
            continue;
        }
        let s = if s.starts_with('{') {
            "{id}".to_string()
        } else {
            s.split('(').next().unwrap_or(s).to_ascii_lowercase()
        };
        segs.push(s);
    }
    format!("/{}", segs.join("/"))
}

/// (METHOD, normalized path) -> [(permission, least-for-Application)]
pub type Index = BTreeMap<(String, String), Vec<(String, bool)>>;

/// permissions.json's Application rules by (method, normalized path).
pub fn index(perms: &Value) -> Result<Index, String> {
    let mut index: BTreeMap<(String, String), Vec<(String, bool)>> = BTreeMap::new();
    for (name, p) in perms["permissions"]
        .as_object()
        .ok_or("permissions.json: no permissions object")?
    {
        for set in p["pathSets"].as_array().into_iter().flatten() {
            if !set["schemeKeys"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k == "Application")
            {
                continue;
            }
            for (path, note) in set["paths"].as_object().into_iter().flatten() {
                let least = note.as_str().unwrap_or("").split(';').any(|n| {
                    n.strip_prefix("least=")
                        .is_some_and(|l| l.split(',').any(|s| s == "Application"))
                });
                for m in set["methods"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    let e = index.entry((m.to_string(), norm(path))).or_default();
                    if !e.iter().any(|(n, _)| n == name) {
                        e.push((name.clone(), least));
                    }
                }
            }
        }
    }
    Ok(index)
}

pub fn resolve_requests(txt: &str, perms: &Value) -> Result<Vec<RequestRule>, String> {
    let index = index(perms)?;
    let mut rules = Vec::new();
    let mut tenantctl = true;
    for line in txt.lines().map(str::trim) {
        if line == "# sandbox only" {
            tenantctl = false;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (method, path) = line
            .split_once(' ')
            .ok_or_else(|| format!("requests.txt: bad line {line:?}"))?;
        // The docs table first: per-resource rules permissions.json lacks.
        let docs: Vec<_> = DOC_RULES
            .iter()
            .filter(|d| d.method == method && norm(d.path) == norm(path))
            .collect();
        if !docs.is_empty() {
            for d in docs {
                rules.push(RequestRule {
                    method: method.to_string(),
                    path: path.to_string(),
                    any_of: d.any_of.iter().map(|p| p.to_string()).collect(),
                    all_of: Vec::new(),
                    least: d.any_of.iter().take(1).map(|p| p.to_string()).collect(),
                    source: d.source.to_string(),
                    tenantctl,
                    resource: d.resource.map(str::to_string),
                });
            }
            continue;
        }
        let mut key = (method.to_string(), norm(path));
        let mut source = "exact".to_string();
        if !index.contains_key(&key) && method == "PUT" {
            key.0 = "PATCH".into();
            source = format!("as PATCH {}", key.1);
        }
        while !index.contains_key(&key) {
            let Some(parent) = key
                .1
                .rsplit_once('/')
                .map(|(p, _)| p.to_string())
                .filter(|p| !p.is_empty())
            else {
                break;
            };
            key = (
                if method == "GET" {
                    "GET".into()
                } else {
                    "PATCH".into()
                },
                parent,
            );
            source = format!("parent: {} {}", key.0, key.1);
        }
        if !index.contains_key(&key) {
            if tenantctl {
                return Err(format!("no permission in permissions.json covers {line}"));
            }
            // The sandbox leaves requests without a rule unchecked.
            eprintln!("gen: no rule for {line} (sandbox only; left unchecked)");
            continue;
        }
        let hits = &index[&key];
        let mut any_of: Vec<String> = hits.iter().map(|(n, _)| n.clone()).collect();
        let mut all_of: Vec<String> = Vec::new();
        // Conditional access writes: permissions.json lists the read
        // permissions beside the write one; the docs require all of them.
        if key.1.starts_with("/identity/conditionalaccess") && method != "GET" {
            all_of = any_of
                .iter()
                .filter(|n| !n.contains("ReadWrite"))
                .cloned()
                .collect();
            any_of.retain(|n| n.contains("ReadWrite"));
        }
        any_of.sort();
        all_of.sort();
        let mut least: Vec<String> = hits
            .iter()
            .filter(|(n, l)| *l && any_of.contains(n))
            .map(|(n, _)| n.clone())
            .collect();
        least.sort();
        // Where the docs pages name another least-privileged permission.
        let p = path.to_ascii_lowercase();
        if let Some(d) = DOCS_LEAST.iter().find(|d| {
            let prefix = d.prefix.to_ascii_lowercase();
            p == prefix || p.starts_with(&format!("{prefix}/"))
        }) {
            // A read is granted by the write permission too.
            let grants: &[&str] = if method == "GET" { &[d.read, d.write] } else { &[d.write] };
            for g in grants {
                if !any_of.iter().any(|n| n == g) {
                    any_of.push(g.to_string());
                }
            }
            any_of.sort();
            // A read's least is the read permission, then the write one
            // (what the README lists when the read one is not).
            least = grants.iter().map(|g| g.to_string()).collect();
            source = format!("{source}; least: {}", d.source);
        }
        rules.push(RequestRule {
            method: method.to_string(),
            path: path.to_string(),
            any_of,
            all_of,
            least,
            source,
            tenantctl,
            resource: None,
        });
    }
    Ok(rules)
}

/// A small set covering every request tenantctl makes: each request's
/// least-privileged permission (and its required companions), then drop
/// those the others already cover.
pub fn documented(rules: &[RequestRule]) -> Result<Vec<String>, String> {
    let ours: Vec<&RequestRule> = rules.iter().filter(|r| r.tenantctl).collect();
    let mut set: BTreeSet<String> = BTreeSet::new();
    for r in &ours {
        let pick = r
            .least
            .first()
            .or_else(|| {
                r.any_of
                    .iter()
                    .find(|p| !EXCLUDED_FROM_DOCUMENTED.contains(&p.as_str()))
            })
            .ok_or_else(|| format!("no usable permission for {} {}", r.method, r.path))?;
        set.insert(pick.clone());
        set.extend(r.all_of.iter().cloned());
    }
    let covers = |set: &BTreeSet<String>| {
        ours.iter().all(|r| {
            r.any_of.iter().any(|p| set.contains(p)) && r.all_of.iter().all(|p| set.contains(p))
        })
    };
    // Drop the narrowest first: a permission that covers fewer requests.
    let mut order: Vec<String> = set.iter().cloned().collect();
    order.sort_by_key(|p| {
        (
            ours.iter().filter(|r| r.any_of.contains(p)).count(),
            p.clone(),
        )
    });
    // The docs' least-privileged permissions (`DOCS_LEAST`) are kept: the
    // README names what the docs pages say.
    let pinned: BTreeSet<&str> = DOCS_LEAST.iter().map(|d| d.write).collect();
    for p in order {
        if pinned.contains(p.as_str()) && ours.iter().any(|r| r.least.first() == Some(&p)) {
            continue;
        }
        let mut without = set.clone();
        without.remove(&p);
        if covers(&without) {
            set = without;
        }
    }
    if !covers(&set) {
        return Err("documented permissions do not cover every request".into());
    }
    Ok(set.into_iter().collect())
}
