//! Beta inputs: the beta type mappings (property names, enum members) and
//! the `@microsoft/microsoft-graph-types-beta` TypeScript declarations,
//! read for base types (`interface X extends Y`) and property types
//! (`name?: NullableOption<Type[]>`). Microsoft publishes no beta CSDL;
//! the typings are generated from it, so they carry its types, in
//! TypeScript's coarser terms (see [`edm`]).

use crate::read;
use crate::NS;
use graph_metadata::model::Prop;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One type of the beta type mappings: its structural and navigation
/// property names.
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub props: Vec<String>,
    pub nav: Vec<String>,
}

/// `{"microsoft.graph": {"type": {"properties": [...], "navigationProperties": [...]}}}`
pub fn names_json(p: &Path) -> Result<BTreeMap<String, Names>, String> {
    let v: Value = serde_json::from_str(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?;
    let list = |d: &Value, key: &str| -> Vec<String> {
        let mut names: Vec<String> = d[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        names.sort();
        names
    };
    let mut out = BTreeMap::new();
    for (ns, types) in v.as_object().into_iter().flatten() {
        for (name, d) in types.as_object().into_iter().flatten() {
            out.insert(
                format!("{ns}.{name}"),
                Names {
                    props: list(d, "properties"),
                    nav: list(d, "navigationProperties"),
                },
            );
        }
    }
    Ok(out)
}

pub fn enum_json(p: &Path) -> Result<BTreeMap<String, Vec<String>>, String> {
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

/// One interface of the beta typings.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Interface {
    pub base: Option<String>,
    /// Property -> (TypeScript element type, collection, nullable).
    pub props: BTreeMap<String, TsProp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TsProp {
    /// `string`, `number`, `boolean`, `any`, or an interface/type name.
    pub ts: String,
    pub collection: bool,
    pub nullable: bool,
}

fn camel(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Parses the top-level `export interface` blocks (the `microsoft.graph`
/// namespace; `export namespace X { ... }` blocks hold the other
/// namespaces and are skipped) into full type name -> interface.
pub fn parse_dts(dts: &str) -> BTreeMap<String, Interface> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, Interface)> = None;
    for line in dts.lines() {
        if line.starts_with("export namespace ") {
            break;
        }
        if let Some(rest) = line.strip_prefix("export interface ") {
            let (head, body_open) = match rest.split_once('{') {
                Some((h, tail)) => (h.trim(), !tail.trim_start().starts_with('}')),
                None => (rest.trim(), true),
            };
            let (name, base) = match head.split_once(" extends ") {
                Some((n, b)) => (n.trim(), Some(b.trim())),
                None => (head, None),
            };
            let base = base
                .and_then(|b| b.split(|c: char| !c.is_alphanumeric()).next())
                .filter(|b| !b.is_empty())
                .map(|b| format!("{NS}.{}", camel(b)));
            let iface = Interface {
                base,
                props: BTreeMap::new(),
            };
            let full = format!("{NS}.{}", camel(name));
            if body_open {
                current = Some((full, iface));
            } else {
                out.insert(full, iface);
            }
            continue;
        }
        if line.starts_with('}') {
            if let Some((n, i)) = current.take() {
                out.insert(n, i);
            }
            continue;
        }
        let Some((_, iface)) = current.as_mut() else {
            continue;
        };
        // `    name?: NullableOption<Type[]>;`
        let l = line.trim();
        let Some((name, ty)) = l.split_once("?: ") else {
            continue;
        };
        if name.starts_with('"') || name.contains(' ') || l.starts_with("//") || l.starts_with('*')
        {
            continue;
        }
        let ty = ty.trim_end_matches(';').trim();
        let (ty, nullable) = match ty
            .strip_prefix("NullableOption<")
            .and_then(|t| t.strip_suffix('>'))
        {
            Some(t) => (t, true),
            None => (ty, false),
        };
        let (ty, collection) = match ty.strip_suffix("[]") {
            Some(t) => (t, true),
            None => (ty, false),
        };
        iface.props.insert(
            name.to_string(),
            TsProp {
                ts: ty.to_string(),
                collection,
                nullable,
            },
        );
    }
    out
}

/// The metadata type of a TypeScript property type: primitives map to the
/// Edm type that accepts every value TypeScript allows there (`number`
/// is any number: the typings do not say Int32 or Double), named types to
/// `microsoft.graph.*` when the metadata knows them (`known`), anything
/// else (other namespaces, `any`) to `Edm.Untyped`, which accepts any value.
pub fn edm(ts: &TsProp, known: impl Fn(&str) -> bool) -> Prop {
    let t = match ts.ts.as_str() {
        "string" => "Edm.String".to_string(),
        "boolean" => "Edm.Boolean".to_string(),
        "number" => "Edm.Double".to_string(),
        name if name.chars().all(char::is_alphanumeric) => {
            let full = format!("{NS}.{}", camel(name));
            if known(&full) {
                full
            } else {
                "Edm.Untyped".to_string()
            }
        }
        _ => "Edm.Untyped".to_string(),
    };
    Prop {
        t,
        c: ts.collection,
        nullable: ts.nullable,
        ro: false,
        max: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_bases_and_property_types() {
        let dts = "export type NullableOption<T> = T | null;\n\
export interface Entity {\n    id?: string;\n}\n\
export interface AzureADWindowsAutopilotDeploymentProfile extends WindowsAutopilotDeploymentProfile {}\n\
export interface WindowsAutopilotDeploymentProfile extends Entity {\n\
    /**\n     * Read-Only.\n     */\n\
    deviceType?: WindowsAutopilotDeviceType;\n\
    displayName?: NullableOption<string>;\n\
    roleScopeTagIds?: NullableOption<string[]>;\n\
    assignments?: NullableOption<WindowsAutopilotDeploymentProfileAssignment[]>;\n\
}\n\
export namespace CallRecords {\n    export interface Entity { x?: string; }\n}\n";
        let m = parse_dts(dts);
        // The published file has CRLF line ends in places.
        assert_eq!(parse_dts(&dts.replace('\n', "\r\n")), m);
        let p = &m["microsoft.graph.windowsAutopilotDeploymentProfile"];
        assert_eq!(p.base.as_deref(), Some("microsoft.graph.entity"));
        assert_eq!(
            m["microsoft.graph.azureADWindowsAutopilotDeploymentProfile"]
                .base
                .as_deref(),
            Some("microsoft.graph.windowsAutopilotDeploymentProfile")
        );
        let dt = &p.props["deviceType"];
        assert!(!dt.nullable && !dt.collection && dt.ts == "WindowsAutopilotDeviceType");
        let tags = &p.props["roleScopeTagIds"];
        assert!(tags.nullable && tags.collection && tags.ts == "string");
        assert_eq!(
            m["microsoft.graph.entity"].props.len(),
            1,
            "namespaces are skipped"
        );
        let known = |n: &str| n == "microsoft.graph.windowsAutopilotDeviceType";
        assert_eq!(
            edm(dt, known).t,
            "microsoft.graph.windowsAutopilotDeviceType"
        );
        assert_eq!(edm(tags, known).t, "Edm.String");
        assert_eq!(edm(&p.props["assignments"], known).t, "Edm.Untyped");
    }
}
