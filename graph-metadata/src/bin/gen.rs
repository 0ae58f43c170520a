//! Regenerates `data/graph-metadata.json` from Graph's published metadata:
//!
//! ```text
//! cargo run -p tenantctl-graph-metadata --features gen --bin gen -- \
//!     ../shared/graph-metadata [path/to/microsoft-graph-types-beta/microsoft-graph.d.ts]
//! ```
//!
//! Inputs: the v1.0 CSDL (types with property types, inheritance, enums),
//! the beta type mappings (property names only), permissions.json, and
//! optionally the `@microsoft/microsoft-graph-types-beta` declarations, read
//! only for `interface X extends Y` (the beta mappings carry no base types).
//! Output: only the types reachable from the collections tenantctl reads
//! and writes, and permission rules for `requests.txt`.

use graph_metadata::model::{Data, EnumDef, Generated, Nav, Prop, RequestRule, TypeDef, TypeKind};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const NS: &str = "microsoft.graph";

/// Entity types of the collections tenantctl reads and writes, and the
/// bodies of the actions it posts.
const ROOTS: &[&str] = &[
    "user",
    "group",
    "invitation",
    "unifiedRoleAssignment",
    "unifiedRoleAssignmentScheduleRequest",
    "unifiedRoleEligibilityScheduleRequest",
    "unifiedRoleAssignmentSchedule",
    "unifiedRoleEligibilitySchedule",
    "unifiedRoleDefinition",
    "deviceConfiguration",
    "deviceConfigurationAssignment",
    "deviceCompliancePolicy",
    "deviceCompliancePolicyAssignment",
    "deviceComplianceScheduledActionForRule",
    "deviceComplianceActionItem",
    "windowsAutopilotDeploymentProfile",
    "windowsAutopilotDeploymentProfileAssignment",
    "deviceManagementConfigurationPolicy",
    "deviceManagementConfigurationPolicyAssignment",
    "conditionalAccessPolicy",
    "windowsFeatureUpdateProfile",
];

/// Maximum lengths the Graph docs give (user and group resource pages);
/// the clean CSDL carries no MaxLength facets for them.
const MAX_LENGTHS: &[(&str, &str, u32)] = &[
    ("user", "displayName", 256),
    ("user", "mailNickname", 64),
    ("user", "givenName", 64),
    ("user", "surname", 64),
    ("user", "jobTitle", 128),
    ("user", "department", 64),
    ("user", "companyName", 64),
    ("user", "employeeId", 16),
    ("user", "officeLocation", 128),
    ("user", "city", 128),
    ("user", "state", 128),
    ("user", "country", 128),
    ("user", "postalCode", 40),
    ("user", "streetAddress", 1024),
    ("user", "usageLocation", 2),
    ("user", "userPrincipalName", 113),
    ("group", "displayName", 256),
    ("group", "description", 1024),
    ("group", "mailNickname", 64),
    ("invitation", "invitedUserDisplayName", 256),
];

/// Properties the Graph docs call read-only where the CSDL has no Computed
/// annotation (directory objects carry no annotations in the clean CSDL).
const READ_ONLY: &[(&str, &str)] = &[
    ("directoryObject", "deletedDateTime"),
    ("user", "createdDateTime"),
    ("user", "creationType"),
    ("user", "assignedLicenses"),
    ("user", "assignedPlans"),
    ("user", "provisionedPlans"),
    ("user", "proxyAddresses"),
    ("user", "lastPasswordChangeDateTime"),
    ("user", "onPremisesDistinguishedName"),
    ("user", "onPremisesDomainName"),
    ("user", "onPremisesLastSyncDateTime"),
    ("user", "onPremisesSamAccountName"),
    ("user", "onPremisesSecurityIdentifier"),
    ("user", "onPremisesSyncEnabled"),
    ("user", "onPremisesUserPrincipalName"),
    ("user", "onPremisesProvisioningErrors"),
    ("user", "securityIdentifier"),
    ("user", "signInActivity"),
    ("user", "externalUserStateChangeDateTime"),
    ("group", "createdDateTime"),
    ("group", "mail"),
    ("group", "proxyAddresses"),
    ("group", "renewedDateTime"),
    ("group", "expirationDateTime"),
    ("group", "securityIdentifier"),
    ("group", "onPremisesDomainName"),
    ("group", "onPremisesLastSyncDateTime"),
    ("group", "onPremisesNetBiosName"),
    ("group", "onPremisesSamAccountName"),
    ("group", "onPremisesSecurityIdentifier"),
    ("group", "onPremisesSyncEnabled"),
    ("group", "onPremisesProvisioningErrors"),
    ("deviceConfiguration", "createdDateTime"),
    ("deviceConfiguration", "lastModifiedDateTime"),
    ("deviceConfiguration", "version"),
    ("deviceCompliancePolicy", "createdDateTime"),
    ("deviceCompliancePolicy", "lastModifiedDateTime"),
    ("deviceCompliancePolicy", "version"),
    ("conditionalAccessPolicy", "createdDateTime"),
    ("conditionalAccessPolicy", "modifiedDateTime"),
    ("windowsAutopilotDeploymentProfile", "createdDateTime"),
    ("windowsAutopilotDeploymentProfile", "lastModifiedDateTime"),
];

/// The permissions tenantctl's documented list is chosen from, in the order
/// the redundancy pass drops them (broad ones never enter: the list should
/// be what a security reviewer expects for a reconciler).
const EXCLUDED_FROM_DOCUMENTED: &[&str] =
    &["Directory.ReadWrite.All", "Directory.AccessAsUser.All"];

fn main() {
    if let Err(e) = run() {
        eprintln!("gen: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let src = PathBuf::from(
        args.first()
            .ok_or("usage: gen <graph-metadata dir> [microsoft-graph.d.ts (beta)]")?,
    );
    let dts = args.get(1).map(PathBuf::from);
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));

    let csdl = read(&src.join("v1.0-cleanMetadata.xml"))?;
    let mut v1 = parse_csdl(&csdl)?;
    let beta_entities = names_json(&src.join("beta-entity-types.json"))?;
    let beta_complex = names_json(&src.join("beta-complex-types.json"))?;
    let beta_enums = enum_json(&src.join("beta-enum-types.json"))?;
    let beta_bases = match &dts {
        Some(p) => parse_dts_bases(&read(p)?),
        None => BTreeMap::new(),
    };

    // Beta-only types and beta-only property names.
    for (kind, names) in [
        (TypeKind::Entity, &beta_entities),
        (TypeKind::Complex, &beta_complex),
    ] {
        for (name, props) in names {
            match v1.types.get_mut(name) {
                Some(t) => {
                    let own: BTreeSet<&String> = t.props.keys().chain(t.nav.keys()).collect();
                    t.beta_props = props.iter().filter(|p| !own.contains(p)).cloned().collect();
                }
                None => {
                    let base = beta_bases
                        .get(name)
                        .cloned()
                        .or_else(|| (kind == TypeKind::Entity).then(|| format!("{NS}.entity")));
                    v1.types.insert(
                        name.clone(),
                        TypeDef {
                            kind,
                            base,
                            r#abstract: false,
                            open: false,
                            beta_only: true,
                            props: BTreeMap::new(),
                            nav: BTreeMap::new(),
                            beta_props: props.clone(),
                        },
                    );
                }
            }
        }
    }
    for (name, members) in &beta_enums {
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
                        flags: false,
                        beta_members: members.clone(),
                    },
                );
            }
        }
    }
    for (t, p, n) in MAX_LENGTHS {
        if let Some(prop) = v1
            .types
            .get_mut(&format!("{NS}.{t}"))
            .and_then(|ty| ty.props.get_mut(*p))
        {
            prop.max = Some(*n);
        }
    }
    for (t, p) in READ_ONLY {
        if let Some(prop) = v1
            .types
            .get_mut(&format!("{NS}.{t}"))
            .and_then(|ty| ty.props.get_mut(*p))
        {
            prop.ro = true;
        }
    }

    let Csdl { types, enums } = reachable(&v1)?;
    let requests_txt = read(&crate_dir.join("requests.txt"))?;
    let permissions: Value = serde_json::from_str(&read(&src.join("permissions.json"))?)
        .map_err(|e| format!("permissions.json: {e}"))?;
    let requests = resolve_requests(&requests_txt, &permissions)?;
    let documented = documented(&requests)?;

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
        sources.insert("microsoft-graph.d.ts (beta)".into(), format!("npm @microsoft/microsoft-graph-types-beta {version}: only `interface X extends Y`, for beta-only types' base types"));
    }
    let data = Data {
        generated: Generated {
            command: "cargo run -p tenantctl-graph-metadata --features gen --bin gen -- ../shared/graph-metadata [node_modules/@microsoft/microsoft-graph-types-beta/microsoft-graph.d.ts]".into(),
            sources,
            notes: vec![
                "Generated file: do not edit. Types: v1.0 CSDL with property types; beta-only types and properties: names only (the beta type mappings publish no property types).".into(),
                "Max lengths and read-only properties of directory objects come from the Graph docs (tables in src/bin/gen.rs); Computed properties from the CSDL.".into(),
                "Permissions: Application scheme of permissions.json; paths it does not list resolve to their parent entity (GET to GET, writes to PATCH), shown in `source`.".into(),
            ],
        },
        types,
        enums,
        requests,
        documented_permissions: documented,
    };
    let mut out = serde_json::to_string_pretty(&data).map_err(|e| e.to_string())?;
    out.push('\n');
    let dst = crate_dir.join("data/graph-metadata.json");
    std::fs::write(&dst, out).map_err(|e| format!("{}: {e}", dst.display()))?;
    eprintln!(
        "wrote {} ({} types, {} enums, {} request rules)",
        dst.display(),
        data.types.len(),
        data.enums.len(),
        data.requests.len()
    );
    Ok(())
}

fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

struct Csdl {
    types: BTreeMap<String, TypeDef>,
    enums: BTreeMap<String, EnumDef>,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name.as_bytes())
        .and_then(|a| a.unescape_value().ok())
        .map(|v| v.into_owned())
}

/// Resolves `graph.user` / `self.x` / `Collection(graph.x)` to (full name, is collection).
fn resolve(t: &str, aliases: &BTreeMap<String, String>) -> (String, bool) {
    let (inner, coll) = match t
        .strip_prefix("Collection(")
        .and_then(|s| s.strip_suffix(')'))
    {
        Some(i) => (i, true),
        None => (t, false),
    };
    let full = match inner.rsplit_once('.') {
        Some((ns, name)) if aliases.contains_key(ns) => format!("{}.{name}", aliases[ns]),
        _ => inner.to_string(),
    };
    (full, coll)
}

fn parse_csdl(xml: &str) -> Result<Csdl, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Csdl {
        types: BTreeMap::new(),
        enums: BTreeMap::new(),
    };
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    let mut ns = String::new();
    let mut current: Option<(String, TypeDef)> = None;
    let mut current_enum: Option<(String, EnumDef)> = None;
    let mut target: Option<String> = None;
    let mut computed: BTreeSet<String> = BTreeSet::new();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("CSDL at {}: {e}", reader.buffer_position()))?;
        let (e, empty) = match &ev {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(end) => {
                match end.name().as_ref() {
                    b"EntityType" | b"ComplexType" => {
                        if let Some((n, t)) = current.take() {
                            out.types.insert(n, t);
                        }
                    }
                    b"EnumType" => {
                        if let Some((n, t)) = current_enum.take() {
                            out.enums.insert(n, t);
                        }
                    }
                    b"Annotations" => target = None,
                    _ => {}
                }
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        let Some(e) = e else { continue };
        match e.name().as_ref() {
            b"Schema" => {
                ns = attr(&e, "Namespace").unwrap_or_default();
                aliases.insert(ns.clone(), ns.clone());
                if let Some(a) = attr(&e, "Alias") {
                    aliases.insert(a, ns.clone());
                }
            }
            b"EntityType" | b"ComplexType" => {
                let name = format!("{ns}.{}", attr(&e, "Name").unwrap_or_default());
                let kind = if e.name().as_ref() == b"EntityType" {
                    TypeKind::Entity
                } else {
                    TypeKind::Complex
                };
                let base = attr(&e, "BaseType").map(|b| resolve(&b, &aliases).0);
                let t = TypeDef {
                    kind,
                    base,
                    r#abstract: attr(&e, "Abstract").as_deref() == Some("true"),
                    open: attr(&e, "OpenType").as_deref() == Some("true"),
                    beta_only: false,
                    props: BTreeMap::new(),
                    nav: BTreeMap::new(),
                    beta_props: Vec::new(),
                };
                if empty {
                    out.types.insert(name, t);
                } else {
                    current = Some((name, t));
                }
            }
            b"Property" => {
                if let Some((_, t)) = current.as_mut() {
                    let (ty, c) = resolve(&attr(&e, "Type").unwrap_or_default(), &aliases);
                    let nullable = attr(&e, "Nullable").as_deref() != Some("false");
                    t.props.insert(
                        attr(&e, "Name").unwrap_or_default(),
                        Prop {
                            t: ty,
                            c,
                            nullable,
                            ro: false,
                            max: None,
                        },
                    );
                }
            }
            b"NavigationProperty" => {
                if let Some((_, t)) = current.as_mut() {
                    let (ty, c) = resolve(&attr(&e, "Type").unwrap_or_default(), &aliases);
                    t.nav
                        .insert(attr(&e, "Name").unwrap_or_default(), Nav { t: ty, c });
                }
            }
            b"EnumType" => {
                let name = format!("{ns}.{}", attr(&e, "Name").unwrap_or_default());
                let d = EnumDef {
                    members: Vec::new(),
                    flags: attr(&e, "IsFlags").as_deref() == Some("true"),
                    beta_members: Vec::new(),
                };
                if empty {
                    out.enums.insert(name, d);
                } else {
                    current_enum = Some((name, d));
                }
            }
            b"Member" => {
                if let Some((_, d)) = current_enum.as_mut() {
                    d.members.push(attr(&e, "Name").unwrap_or_default());
                }
            }
            b"Annotations" => target = attr(&e, "Target"),
            b"Annotation" => {
                let term = attr(&e, "Term").unwrap_or_default();
                if let Some(t) = &target {
                    let ro = term == "Org.OData.Core.V1.Computed"
                        && attr(&e, "Bool").as_deref() != Some("false");
                    if ro {
                        computed.insert(t.clone());
                    }
                }
            }
            _ => {}
        }
    }
    // `Org.OData.Core.V1.Permissions` = Read also marks read-only; it always
    // comes with Computed in this CSDL, so Computed is enough.
    for t in computed {
        if let Some((ty, prop)) = t.rsplit_once('/') {
            let (full, _) = resolve(ty, &aliases);
            if let Some(p) = out.types.get_mut(&full).and_then(|d| d.props.get_mut(prop)) {
                p.ro = true;
            }
        }
    }
    Ok(out)
}

/// `{"microsoft.graph": {"type": {"properties": [...], "navigationProperties": [...]}}}`
fn names_json(p: &Path) -> Result<BTreeMap<String, Vec<String>>, String> {
    let v: Value = serde_json::from_str(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?;
    let mut out = BTreeMap::new();
    for (ns, types) in v.as_object().into_iter().flatten() {
        for (name, d) in types.as_object().into_iter().flatten() {
            let mut names: Vec<String> = Vec::new();
            for key in ["properties", "navigationProperties"] {
                names.extend(
                    d[key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_string),
                );
            }
            names.sort();
            out.insert(format!("{ns}.{name}"), names);
        }
    }
    Ok(out)
}

fn enum_json(p: &Path) -> Result<BTreeMap<String, Vec<String>>, String> {
    let v: Value = serde_json::from_str(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?;
    let mut out = BTreeMap::new();
    for (ns, types) in v.as_object().into_iter().flatten() {
        for (name, d) in types.as_object().into_iter().flatten() {
            out.insert(
                format!("{ns}.{name}"),
                d.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            );
        }
    }
    Ok(out)
}

/// `export interface WindowsFeatureUpdateProfile extends Entity {` -> base names.
fn parse_dts_bases(dts: &str) -> BTreeMap<String, String> {
    let camel = |s: &str| {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    dts.lines()
        .filter_map(|l| l.trim().strip_prefix("export interface "))
        .filter_map(|rest| {
            let (name, rest) = rest.split_once(" extends ")?;
            let base = rest.split(|c: char| !c.is_alphanumeric()).next()?;
            Some((
                format!("{NS}.{}", camel(name)),
                format!("{NS}.{}", camel(base)),
            ))
        })
        .collect()
}

/// The roots, their base chains, everything derived from them, and every
/// complex and enum type their properties use (with their derived types).
fn reachable(all: &Csdl) -> Result<Csdl, String> {
    let mut derived: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, t) in &all.types {
        if let Some(b) = &t.base {
            derived.entry(b.as_str()).or_default().push(name.as_str());
        }
    }
    // (type, whether to pull in its derived types): bases reached upwards
    // do not bring their other descendants (entity would bring everything).
    let mut todo: Vec<(String, bool)> = ROOTS.iter().map(|r| (format!("{NS}.{r}"), true)).collect();
    for (r, _) in &todo {
        if !all.types.contains_key(r) {
            return Err(format!(
                "root type {r} is in neither the v1.0 CSDL nor the beta mappings"
            ));
        }
    }
    let mut types = BTreeMap::new();
    let mut enums = BTreeMap::new();
    let mut expanded: BTreeSet<String> = BTreeSet::new();
    while let Some((name, down)) = todo.pop() {
        if expanded.contains(&name) || (!down && types.contains_key(&name)) {
            continue;
        }
        let Some(t) = all.types.get(&name) else {
            continue;
        };
        if let Some(b) = &t.base {
            todo.push((b.clone(), false));
        }
        if down {
            expanded.insert(name.clone());
            for d in derived.get(name.as_str()).into_iter().flatten() {
                todo.push(((*d).to_string(), true));
            }
        }
        for p in t.props.values() {
            if all.types.contains_key(&p.t) {
                todo.push((p.t.clone(), true));
            } else if let Some(e) = all.enums.get(&p.t) {
                enums.insert(p.t.clone(), e.clone());
            }
        }
        types.insert(name, t.clone());
    }
    Ok(Csdl { types, enums })
}

/// Lower-case, `{anything}` -> `{id}`, no `$ref`, no function arguments.
fn norm(path: &str) -> String {
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

fn resolve_requests(txt: &str, perms: &Value) -> Result<Vec<RequestRule>, String> {
    // (METHOD, normalized path) -> [(permission, least-for-Application)]
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
        rules.push(RequestRule {
            method: method.to_string(),
            path: path.to_string(),
            any_of,
            all_of,
            least,
            source,
            tenantctl,
        });
    }
    Ok(rules)
}

/// A small set covering every request tenantctl makes: each request's
/// least-privileged permission (and its required companions), then drop
/// those the others already cover.
fn documented(rules: &[RequestRule]) -> Result<Vec<String>, String> {
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
    for p in order {
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
