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

/// Paths the code builds from a variable collection or action name (a
/// `{...}` segment that is not a key), with every request they make: a
/// wildcard on the code side would match any rule, so each is listed.
const BUILT: &[(&str, &[&str])] = &[
    // apply::read_object (import) tries each place a role assignment lives.
    (
        "/roleManagement/directory/{c}/{id}",
        &[
            "/roleManagement/directory/roleAssignments/{id}",
            "/roleManagement/directory/roleEligibilitySchedules/{id}",
            "/roleManagement/directory/roleAssignmentSchedules/{id}",
        ],
    ),
    // apply: looking a PIM request's schedule (or its mirror) up.
    (
        "/roleManagement/directory/{list}",
        &[
            "/roleManagement/directory/roleAssignments",
            "/roleManagement/directory/roleEligibilitySchedules",
            "/roleManagement/directory/roleAssignmentSchedules",
        ],
    ),
    // Members and owners of a group: read, added, removed.
    ("/groups/{id}/{rel}", &["/groups/{id}/members", "/groups/{id}/owners"]),
    ("/groups/{group}/{rel}/$ref", &["/groups/{id}/members/$ref", "/groups/{id}/owners/$ref"]),
    ("/groups/{id}/{rel}/{m}/$ref", &["/groups/{id}/members/{id}/$ref", "/groups/{id}/owners/{id}/$ref"]),
];

/// Whether some rule's template matches `path` (query cut off): a `{...}`
/// segment of the template stands for any one segment; one in the path
/// (a key the code fills in) matches only a template's `{...}`.
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
                .all(|(t, s)| t.starts_with('{') || t.eq_ignore_ascii_case(s))
    })
}

#[test]
fn a_key_in_the_code_never_matches_a_named_segment() {
    // `{c}` in code is not "any collection": it must be listed in BUILT.
    assert!(!covered("/roleManagement/directory/{c}/{id}/nothingLikeThis"));
    assert!(covered("/identity/conditionalAccess/policies/{id}"));
    for (_, all) in BUILT {
        for p in *all {
            assert!(covered(p), "{p}");
        }
    }
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
        .flat_map(|(f, p)| {
            let built = BUILT.iter().find(|(lit, _)| p.split('?').next() == Some(*lit));
            let paths: Vec<String> = match built {
                Some((_, all)) => all.iter().map(|s| s.to_string()).collect(),
                None => vec![p.clone()],
            };
            paths.into_iter().filter(|p| !covered(p)).map(move |p| format!("{f}: {p}"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "Graph paths in the code with no rule in graph-metadata/requests.txt (add them and regenerate):\n{}",
        missing.join("\n")
    );
}
