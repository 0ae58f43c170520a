//! Every Graph path tenantctl's code names is in graph-metadata's
//! `requests.txt`, so it has a permission rule, the README's permission
//! list covers it and the sandbox checks it. The end-to-end permission test
//! only sees the requests the example tenant makes; this scans the source,
//! so a request only some tenants trigger (assignment filters, PIM
//! look-ups) is not missed.

use std::path::Path;

const ROOTS: &[&str] = &[
    "users",
    "groups",
    "invitations",
    "directoryObjects",
    "domains",
    "directory",
    "roleManagement",
    "deviceManagement",
    "identity",
    "organization",
];

/// Graph path literals (`"/users/{id}?$select=..."`) in the non-test part
/// of each `.rs` file under `dir`.
fn literals(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            literals(&p, out);
            continue;
        }
        if p.extension().and_then(|x| x.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for piece in code.split("\"/").skip(1) {
            let Some(lit) = piece.split('"').next() else {
                continue;
            };
            let first = lit.split(['/', '?']).next().unwrap_or_default();
            if ROOTS.contains(&first) {
                out.push((p.display().to_string(), format!("/{lit}")));
            }
        }
    }
}

/// Whether some rule's template matches `path` (query cut off): `{...}`
/// in either stands for any one segment.
fn covered(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != "$ref")
        .map(|s| s.split('(').next().unwrap_or(s))
        .collect();
    graph_metadata::metadata().data.requests.iter().any(|r| {
        let tpl: Vec<&str> = r
            .path
            .split('/')
            .filter(|s| !s.is_empty() && *s != "$ref")
            .collect();
        tpl.len() == segs.len()
            && tpl
                .iter()
                .zip(&segs)
                .all(|(t, s)| t.starts_with('{') || s.starts_with('{') || t.eq_ignore_ascii_case(s))
    })
}

#[test]
fn every_graph_path_in_the_code_has_a_permission_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for dir in ["providers/src", "src", "engine/src"] {
        literals(&root.join(dir), &mut found);
    }
    assert!(
        found.iter().any(|(_, p)| p.starts_with("/roleManagement/")),
        "the scan finds the request paths: {found:?}"
    );
    let missing: Vec<String> = found
        .iter()
        .filter(|(_, p)| !covered(p))
        .map(|(f, p)| format!("{f}: {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "Graph paths in the code with no rule in graph-metadata/requests.txt (add them and regenerate):\n{}",
        missing.join("\n")
    );
}
