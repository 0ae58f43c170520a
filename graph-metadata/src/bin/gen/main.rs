//! Regenerates `data/graph-metadata.json` from Graph's published metadata:
//!
//! ```text
//! cargo run -p tenantctl-graph-metadata --features gen --bin gen -- \
//!     ../shared/graph-metadata [path/to/microsoft-graph-types-beta/microsoft-graph.d.ts]
//! ```
//!
//! Inputs: the v1.0 CSDL (types with property types, inheritance, enums),
//! the beta type mappings (property names, enum members), permissions.json,
//! and the `@microsoft/microsoft-graph-types-beta` declarations (base types
//! and property types of beta-only types and properties; without them,
//! those are known by name only). Output: only the types reachable from
//! the collections tenantctl reads and writes, the maximum lengths, and
//! permission rules for `requests.txt`.

mod beta;
mod collections;
mod csdl;
mod requests;
mod tables;

use graph_metadata::model::{Data, EnumDef, Generated, Limit, Nav, TypeDef, TypeKind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub const NS: &str = "microsoft.graph";

fn main() {
    if let Err(e) = run() {
        eprintln!("gen: {e}");
        std::process::exit(1);
    }
}

pub fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let src = PathBuf::from(
        args.first()
            .ok_or("usage: gen <graph-metadata dir> [microsoft-graph.d.ts (beta)]")?,
    );
    let dts = args.get(1).map(PathBuf::from);
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));

    let mut v1 = csdl::parse_csdl(&read(&src.join("v1.0-cleanMetadata.xml"))?)?;
    let beta_entities = beta::names_json(&src.join("beta-entity-types.json"))?;
    let beta_complex = beta::names_json(&src.join("beta-complex-types.json"))?;
    let beta_enums = beta::enum_json(&src.join("beta-enum-types.json"))?;
    let ts = match &dts {
        Some(p) => beta::parse_dts(&read(p)?),
        None => BTreeMap::new(),
    };
    merge_beta(&mut v1, &beta_entities, &beta_complex, &beta_enums, &ts);
    let limits = apply_tables(&mut v1);
    let permissions: Value = serde_json::from_str(&read(&src.join("permissions.json"))?)
        .map_err(|e| format!("permissions.json: {e}"))?;
    let index = requests::index(&permissions)?;
    let actions = collections::assign_actions(&read(&src.join("v1.0-cleanMetadata.xml"))?);
    let collections = collections::object_collections(&v1, &ts, &actions, |path| {
        index.contains_key(&("POST".to_string(), requests::norm(path)))
    })?;
    // Their entities (and assignment types) are kept like the roots'.
    let extra: Vec<String> = collections
        .iter()
        .flat_map(|c| std::iter::once(c.entity.clone()).chain(c.assign.iter().map(|a| a.assignment.clone())))
        .collect();

    let csdl::Csdl {
        mut types,
        enums,
        max_lengths: _,
    } = csdl::reachable(&v1, &extra)?;
    // A beta-only type's navigation to a type not kept is known by name
    // only (deep inserts into it are not checked), rather than refused.
    let kept: BTreeSet<String> = types.keys().cloned().collect();
    for t in types.values_mut().filter(|t| t.beta_only) {
        let gone: Vec<String> = t
            .nav
            .iter()
            .filter(|(_, n)| !kept.contains(&n.t))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            t.nav.remove(&k);
            t.beta_props.push(k);
        }
        t.beta_props.sort();
    }
    let limits: Vec<Limit> = limits
        .into_iter()
        .filter(|l| types.contains_key(&format!("{NS}.{}", l.t)))
        .collect();
    let requests_txt = read(&crate_dir.join("requests.txt"))?;
    let mut requests = requests::resolve_requests(&requests_txt, &permissions)?;
    // graph_object's requests on every collection it may name (not
    // tenantctl's own list: granted when an object there is declared).
    let generated: Vec<String> = collections.iter().flat_map(collections::requests).collect();
    let generated = format!("# sandbox only\n{}\n", generated.join("\n"));
    for r in requests::resolve_requests(&generated, &permissions)? {
        if !requests.iter().any(|x| x.method == r.method && x.path.eq_ignore_ascii_case(&r.path)) {
            requests.push(r);
        }
    }
    let documented = requests::documented(&requests)?;

    let mut sources = BTreeMap::new();
    let readme = read(&src.join("README.md")).unwrap_or_default();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4 {
            sources.insert(cells[1].trim_matches('`').to_string(), cells[3].to_string());
        }
    }
    if let Some(p) = &dts {
        let version = p
            .parent()
            .map(|d| d.join("package.json"))
            .and_then(|pj| std::fs::read_to_string(pj).ok())
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| v["version"].as_str().map(str::to_string))
            .unwrap_or_default();
        sources.insert("microsoft-graph.d.ts (beta)".into(), format!("npm @microsoft/microsoft-graph-types-beta {version}: base types and property types of beta-only types and properties"));
    }
    let data = Data {
        generated: Generated {
            command: "cargo run -p tenantctl-graph-metadata --features gen --bin gen -- ../shared/graph-metadata [package/microsoft-graph.d.ts]".into(),
            sources,
            notes: vec![
                "Generated file: do not edit. Types: v1.0 CSDL with property types; beta-only types and properties: typed from the beta TypeScript declarations (string, boolean, number as Edm.Double, enums, complex types, collections; NullableOption = nullable), by name only where those give no type.".into(),
                "Max lengths (`limits`): CSDL MaxLength facets, then the Graph docs where the CSDL has none (tables in src/bin/gen/tables.rs, each with its source); read-only properties of directory objects from the docs; Computed properties from the CSDL.".into(),
                "Permissions: Application scheme of permissions.json; paths it does not list resolve to their parent entity (GET to GET, writes to PATCH), shown in `source`; deleted items per resource from the docs pages (`source` names them).".into(),
            ],
        },
        types,
        enums,
        requests,
        documented_permissions: documented,
        limits,
        collections,
    };
    let mut out = serde_json::to_string_pretty(&data).map_err(|e| e.to_string())?;
    out.push('\n');
    let dst = crate_dir.join("data/graph-metadata.json");
    std::fs::write(&dst, out).map_err(|e| format!("{}: {e}", dst.display()))?;
    eprintln!(
        "wrote {} ({} types, {} enums, {} request rules, {} limits)",
        dst.display(),
        data.types.len(),
        data.enums.len(),
        data.requests.len(),
        data.limits.len()
    );
    Ok(())
}

/// Adds the beta-only types, properties and enum members to the v1.0
/// model, typed from the beta declarations `ts` where they say.
fn merge_beta(
    v1: &mut csdl::Csdl,
    entities: &BTreeMap<String, beta::Names>,
    complex: &BTreeMap<String, beta::Names>,
    enums: &BTreeMap<String, Vec<String>>,
    ts: &BTreeMap<String, beta::Interface>,
) {
    let known: BTreeSet<String> = v1
        .types
        .keys()
        .chain(v1.enums.keys())
        .chain(entities.keys())
        .chain(complex.keys())
        .chain(enums.keys())
        .cloned()
        .collect();
    let typed = |ty: &str, prop: &str| {
        ts.get(ty)
            .and_then(|i| i.props.get(prop))
            .map(|p| beta::edm(p, |n| known.contains(n)))
    };
    for (kind, names) in [(TypeKind::Entity, entities), (TypeKind::Complex, complex)] {
        for (name, n) in names {
            match v1.types.get_mut(name) {
                Some(t) => {
                    let own: BTreeSet<&String> = t.props.keys().chain(t.nav.keys()).collect();
                    let (mut untyped, mut typed_props) = (Vec::new(), BTreeMap::new());
                    for p in n.props.iter().filter(|p| !own.contains(p)) {
                        match typed(name, p) {
                            Some(prop) => {
                                typed_props.insert(p.clone(), prop);
                            }
                            None => untyped.push(p.clone()),
                        }
                    }
                    untyped.extend(n.nav.iter().filter(|p| !own.contains(p)).cloned());
                    untyped.sort();
                    t.beta_props = untyped;
                    t.beta_typed = typed_props;
                }
                None => {
                    let base = ts
                        .get(name)
                        .and_then(|i| i.base.clone())
                        .or_else(|| (kind == TypeKind::Entity).then(|| format!("{NS}.entity")));
                    let mut t = TypeDef {
                        kind,
                        base,
                        r#abstract: false,
                        open: false,
                        beta_only: true,
                        props: BTreeMap::new(),
                        nav: BTreeMap::new(),
                        beta_props: Vec::new(),
                        beta_typed: BTreeMap::new(),
                    };
                    for p in &n.props {
                        match typed(name, p) {
                            Some(prop) => {
                                t.props.insert(p.clone(), prop);
                            }
                            None => t.beta_props.push(p.clone()),
                        }
                    }
                    for p in &n.nav {
                        match typed(name, p).filter(|x| known.contains(&x.t)) {
                            Some(prop) => {
                                t.nav.insert(
                                    p.clone(),
                                    Nav {
                                        t: prop.t,
                                        c: prop.c,
                                    },
                                );
                            }
                            None => t.beta_props.push(p.clone()),
                        }
                    }
                    t.beta_props.sort();
                    v1.types.insert(name.clone(), t);
                }
            }
        }
    }
    for (name, members) in enums {
        match v1.enums.get_mut(name) {
            Some(e) => {
                e.beta_members = members
                    .iter()
                    .filter(|m| !e.members.contains(m))
                    .cloned()
                    .collect()
            }
            None => {
                v1.enums.insert(
                    name.clone(),
                    EnumDef {
                        members: Vec::new(),
                        flags: tables::BETA_FLAGS.contains(&name.as_str()),
                        beta_members: members.clone(),
                    },
                );
            }
        }
    }
}

/// Applies the docs tables (read-only properties, maximum lengths) and
/// returns the one table of maximum lengths: the CSDL's facets, then the
/// documented ones it lacks.
fn apply_tables(v1: &mut csdl::Csdl) -> Vec<Limit> {
    let mut limits: Vec<Limit> = v1
        .max_lengths
        .iter()
        .map(|((t, p), n)| Limit {
            t: t.trim_start_matches(&format!("{NS}.")).to_string(),
            prop: p.clone(),
            max: *n,
            source: "CSDL MaxLength".into(),
        })
        .collect();
    for (t, p, n, source) in tables::DOC_MAX_LENGTHS {
        if !limits.iter().any(|l| l.t == *t && l.prop == *p) {
            limits.push(Limit {
                t: (*t).to_string(),
                prop: (*p).to_string(),
                max: *n,
                source: (*source).to_string(),
            });
        }
    }
    limits.sort_by(|a, b| (&a.t, &a.prop).cmp(&(&b.t, &b.prop)));
    for l in &limits {
        if let Some(ty) = v1.types.get_mut(&format!("{NS}.{}", l.t)) {
            if let Some(prop) = ty.props.get_mut(&l.prop).or(ty.beta_typed.get_mut(&l.prop)) {
                prop.max = Some(l.max);
            }
        }
    }
    for (t, p) in tables::READ_ONLY {
        if let Some(ty) = v1.types.get_mut(&format!("{NS}.{t}")) {
            if let Some(prop) = ty.props.get_mut(*p).or(ty.beta_typed.get_mut(*p)) {
                prop.ro = true;
            }
        }
    }
    limits
}
