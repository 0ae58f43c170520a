//! The v1.0 CSDL: entity, complex and enum types with their properties,
//! and the part of it reachable from the types tenantctl uses.

use crate::tables::ROOTS;
use crate::NS;
use graph_metadata::model::{EnumDef, Nav, Prop, TypeDef, TypeKind};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::{BTreeMap, BTreeSet};

pub struct Csdl {
    pub types: BTreeMap<String, TypeDef>,
    pub enums: BTreeMap<String, EnumDef>,
    /// (type, property) -> MaxLength facet.
    pub max_lengths: BTreeMap<(String, String), u32>,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name.as_bytes())
        .and_then(|a| a.unescape_value().ok())
        .map(|v| v.into_owned())
}

/// Resolves `graph.user` / `self.x` / `Collection(graph.x)` to (full name, is collection).
pub fn resolve(t: &str, aliases: &BTreeMap<String, String>) -> (String, bool) {
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

pub fn parse_csdl(xml: &str) -> Result<Csdl, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Csdl {
        types: BTreeMap::new(),
        enums: BTreeMap::new(),
        max_lengths: BTreeMap::new(),
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
                    beta_typed: BTreeMap::new(),
                };
                if empty {
                    out.types.insert(name, t);
                } else {
                    current = Some((name, t));
                }
            }
            b"Property" => {
                if let Some((tn, t)) = current.as_mut() {
                    let (ty, c) = resolve(&attr(&e, "Type").unwrap_or_default(), &aliases);
                    let nullable = attr(&e, "Nullable").as_deref() != Some("false");
                    let name = attr(&e, "Name").unwrap_or_default();
                    if let Some(n) = attr(&e, "MaxLength").and_then(|m| m.parse::<u32>().ok()) {
                        out.max_lengths.insert((tn.clone(), name.clone()), n);
                    }
                    t.props.insert(
                        name,
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

/// The roots, their base chains, everything derived from them, and every
/// complex and enum type their properties use (with their derived types).
pub fn reachable(all: &Csdl, extra: &[String]) -> Result<Csdl, String> {
    let mut derived: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, t) in &all.types {
        if let Some(b) = &t.base {
            derived.entry(b.as_str()).or_default().push(name.as_str());
        }
    }
    // (type, whether to pull in its derived types): bases reached upwards
    // do not bring their other descendants (entity would bring everything).
    let mut todo: Vec<(String, bool)> = ROOTS
        .iter()
        .map(|r| (format!("{NS}.{r}"), true))
        .chain(extra.iter().map(|r| (format!("{NS}.{r}"), true)))
        .collect();
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
        for p in t.props.values().chain(t.beta_typed.values()) {
            if all.types.contains_key(&p.t) {
                todo.push((p.t.clone(), true));
            } else if let Some(e) = all.enums.get(&p.t) {
                enums.insert(p.t.clone(), e.clone());
            }
        }
        types.insert(name, t.clone());
    }
    Ok(Csdl {
        types,
        enums,
        max_lengths: all.max_lengths.clone(),
    })
}
