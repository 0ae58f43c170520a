//! Write validation from Graph's published metadata: every POST, PATCH and
//! PUT body (top-level or inside `$batch`) is checked against the type its
//! `@odata.type` names, or the collection's type, as Graph's OData reader
//! does before any resource logic runs: unknown properties, wrong value
//! types, null for non-nullable properties, read-only properties, enum
//! values outside the enum, an `@odata.type` that is not the collection's
//! type or derived from it, and the string lengths the docs give. Beta-only
//! types and properties are checked the same way, typed from the beta
//! TypeScript declarations (Microsoft publishes no beta CSDL); the few the
//! declarations give no type for are checked by name only.
//!
//! The knowledge comes from `graph-metadata` (generated from the CSDL), never
//! from `providers/`. Called once from [`crate::graph::dispatch`].

use crate::error::GraphError;
use crate::graph::{Ctx, GReq, Version};
use crate::resources::{self, Family};
use graph_metadata::{full_name, metadata, Metadata, PropInfo};
use serde_json::{Map, Value};

/// How a collection's errors look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Directory,
    Intune,
    Other,
}

struct Check<'a> {
    m: &'a Metadata,
    style: Style,
    beta: bool,
}

/// What the body of a write must be.
enum Body {
    /// An entity of (a type derived from) this type.
    Entity(&'static str),
    /// An action's parameters: name -> collection element type.
    Action(&'static [(&'static str, &'static str)]),
    /// `{"@odata.id": "..."}` (`$ref`).
    Ref,
    /// Not checked here (no metadata for it).
    Unchecked,
}

fn body_kind(segs: &[&str], method: &str) -> Body {
    // Each collection's entity type is in its `Spec` (resources.rs);
    // `/invitations` is an action, not a collection.
    let entity = |coll: &str| -> Option<&'static str> {
        match coll {
            "invitations" => Some("invitation"),
            _ => crate::resources::spec_by_name(coll).and_then(|s| s.entity),
        }
    };
    let last = segs.last().copied().unwrap_or("");
    if last == "$ref" {
        return Body::Ref;
    }
    // The collections served from the metadata alone (graph_object's).
    match crate::graph_collections::write_body(segs, method) {
        Some(crate::graph_collections::WriteBody::Entity(e)) => return Body::Entity(e),
        Some(crate::graph_collections::WriteBody::Action(p)) => return Body::Action(p),
        None => {}
    }
    // Writes below a member, as the collection's spec (in its kind's
    // sandbox module) declares them.
    if let Some(spec) = crate::resources::find(segs) {
        let rest = &segs[spec.path.len().min(segs.len())..];
        let rule = spec.writes.iter().find(|w| {
            w.method == method && w.rest.len() == rest.len() && w.rest.iter().zip(rest).all(|(want, got)| *want == "{id}" || want == got)
        });
        match rule.map(|w| w.body) {
            Some(crate::resources::WriteBody::Entity(e)) => return Body::Entity(e),
            Some(crate::resources::WriteBody::Action(p)) => return Body::Action(p),
            None => {}
        }
    }
    // Intune's collections are found by their whole path (its RBAC
    // collections share their last segment with the directory's).
    if let Some(e) = crate::resources::find(segs).filter(|s| s.path.len() == 2 && s.path[0] == "deviceManagement").and_then(|s| s.entity) {
        match (method, segs.len()) {
            ("POST", 2) | ("PATCH" | "PUT", 3) => return Body::Entity(e),
            _ => {}
        }
    }
    // Collection (POST) or member (PATCH/PUT) of a known entity set.
    match (method, segs) {
        // Singletons and the partners keyed by tenant id (before the
        // generic arms: `policies` alone is conditional access's).
        ("PATCH", ["policies", "authorizationPolicy"]) => Body::Entity("authorizationPolicy"),
        ("PATCH", ["policies", "crossTenantAccessPolicy", "default"]) => {
            Body::Entity("crossTenantAccessPolicyConfigurationDefault")
        }
        ("POST", ["policies", "crossTenantAccessPolicy", "partners"])
        | ("PATCH", ["policies", "crossTenantAccessPolicy", "partners", _]) => {
            Body::Entity("crossTenantAccessPolicyConfigurationPartner")
        }
        ("POST", [.., coll]) if entity(coll).is_some() => {
            entity(coll).map_or(Body::Unchecked, Body::Entity)
        }
        ("PATCH" | "PUT", [.., coll, _id]) if entity(coll).is_some() => {
            entity(coll).map_or(Body::Unchecked, Body::Entity)
        }
        ("PATCH", ["policies", "authenticationMethodsPolicy"]) => Body::Entity("authenticationMethodsPolicy"),
        ("PATCH", ["policies", "authenticationMethodsPolicy", "authenticationMethodConfigurations", _]) => {
            Body::Entity("authenticationMethodConfiguration")
        }
        ("PATCH", ["policies", "roleManagementPolicies", _, "rules", _]) => Body::Entity("unifiedRoleManagementPolicyRule"),
        _ => Body::Unchecked,
    }
}

/// Checks one request's body; `Ok` for requests that carry none or that
/// no metadata describes.
pub fn check(ctx: &Ctx, req: &GReq) -> Result<(), GraphError> {
    if !matches!(req.method.as_str(), "POST" | "PATCH" | "PUT") {
        return Ok(());
    }
    let segs: Vec<&str> = req.path.iter().map(String::as_str).collect();
    let Some(Value::Object(body)) = &req.body else {
        return Ok(());
    };
    let style = match resources::find(&segs).map(|s| s.family) {
        Some(Family::Intune) => Style::Intune,
        Some(Family::Other) => Style::Other,
        Some(Family::Directory) | None => Style::Directory,
    };
    // Intune refuses a PATCH without `@odata.type` in its own words
    // (`crate::intune::patch`); the reader never sees it.
    if style == Style::Intune && req.method == "PATCH" && !body.contains_key("@odata.type") {
        return Ok(());
    }
    let c = Check {
        m: metadata(),
        style,
        beta: ctx.version == Version::Beta,
    };
    match body_kind(&segs, &req.method) {
        Body::Entity(t) => c.object(body, &full_name(t), true, req.method == "POST"),
        Body::Action(params) => {
            for (k, v) in body {
                let Some((_, t)) = params.iter().find(|(p, _)| p == k) else {
                    return Err(c.err(format!("The parameter '{k}' in the request payload is not a valid parameter for the operation.")));
                };
                let Value::Array(items) = v else {
                    return Err(c.err(node_msg(v, "StartArray")));
                };
                for item in items {
                    match item {
                        Value::Object(o) => c.object(o, &full_name(t), false, true)?,
                        other => return Err(c.err(node_msg(other, "StartObject"))),
                    }
                }
            }
            Ok(())
        }
        Body::Ref => {
            for k in body.keys() {
                if k != "@odata.id" {
                    return Err(c.err(format!("The property '{k}' does not exist on type 'Edm.EntityReference'. Make sure to only use property names that are defined by the type.")));
                }
            }
            Ok(())
        }
        Body::Unchecked => Ok(()),
    }
}

/// The JSON reader's wording for a value of the wrong shape.
fn node_msg(v: &Value, expected: &str) -> String {
    let found = match v {
        Value::Array(_) => "StartArray",
        Value::Object(_) => "StartObject",
        _ => "PrimitiveValue",
    };
    format!("An unexpected '{found}' node was found when reading from the JSON reader. A '{expected}' node was expected.")
}

fn literal(v: &Value) -> String {
    match v {
        Value::String(s) => s.chars().take(200).collect(),
        other => other.to_string().chars().take(200).collect(),
    }
}

fn short(t: &str) -> &str {
    t.rsplit('.').next().unwrap_or(t)
}

impl Check<'_> {
    fn err(&self, msg: String) -> GraphError {
        match self.style {
            Style::Directory => GraphError::bad_request(msg),
            Style::Intune => GraphError::new(400, "ModelValidationFailure", msg),
            Style::Other => GraphError::new(400, "BadRequest", msg),
        }
    }

    /// The type name as the service shows it (Intune's service namespace).
    fn shown(&self, t: &str) -> String {
        match self.style {
            Style::Intune => format!("microsoft.management.services.api.{}", short(t)),
            _ => t.to_string(),
        }
    }

    /// Checks an object against `expected` (or the type its `@odata.type`
    /// names, which must derive from `expected`).
    fn object(
        &self,
        o: &Map<String, Value>,
        expected: &str,
        entity: bool,
        create: bool,
    ) -> Result<(), GraphError> {
        let mut ty = expected.to_string();
        if let Some(v) = o.get("@odata.type") {
            let given = v.as_str().map(full_name).unwrap_or_default();
            if self.m.type_def(&given).is_none()
                || (!self.beta && self.m.type_def(&given).is_some_and(|t| t.beta_only))
            {
                return Err(self.err(format!(
                    "A type named '{given}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
                )));
            }
            if !self.m.is_a(&given, expected) {
                return Err(self.err(format!(
                    "A value was encountered that has a type name that is incompatible with the metadata. The value specified its type as '{given}', but the type specified in the metadata is '{expected}'."
                )));
            }
            ty = given;
        }
        // An object that is only an id names an existing entity (a policy's
        // stage names its custom extension so): nothing is created.
        let names_one = o.len() == 1 && o.contains_key("id");
        if entity && create && !names_one && self.m.type_def(&ty).is_some_and(|t| t.r#abstract) {
            return Err(self.err(format!("Cannot create an instance of the abstract type '{ty}'; specify a derived type in '@odata.type'.")));
        }
        let open = self.m.chain(&ty).iter().any(|(_, t)| t.open);
        let props = self.m.properties(&ty, self.beta);
        for (k, v) in o {
            if k.starts_with('@') {
                continue;
            }
            if let Some((nav, annotation)) = k.split_once('@') {
                if annotation == "odata.bind"
                    && !matches!(
                        props.get(nav),
                        Some(PropInfo::Navigation { .. } | PropInfo::NameOnly)
                    )
                {
                    return Err(self.err(format!(
                        "The navigation property '{nav}' does not exist on type '{}'.",
                        self.shown(&ty)
                    )));
                }
                continue;
            }
            match props.get(k.as_str()) {
                None if open && k.starts_with("extension_") => {}
                None => {
                    return Err(self.err(format!(
                        "The property '{k}' does not exist on type '{}'. Make sure to only use property names that are defined by the type.",
                        self.shown(&ty)
                    )))
                }
                Some(PropInfo::NameOnly) => {}
                Some(PropInfo::Navigation { t, collection }) => {
                    // Deep insert: the related entities must fit their type.
                    match (v, collection) {
                        (Value::Array(items), true) => {
                            for i in items {
                                match i {
                                    Value::Object(io) => self.object(io, t, true, create)?,
                                    other => return Err(self.err(node_msg(other, "StartObject"))),
                                }
                            }
                        }
                        (Value::Object(io), false) => self.object(io, t, true, create)?,
                        (other, true) => return Err(self.err(node_msg(other, "StartArray"))),
                        (other, false) => return Err(self.err(node_msg(other, "StartObject"))),
                    }
                }
                Some(PropInfo::Typed(p)) => {
                    if p.ro {
                        return Err(self.err(match self.style {
                            Style::Directory => format!("Property '{k}' is read-only and cannot be set."),
                            _ => format!("The property '{k}' is read-only and cannot be set on type '{}'.", self.shown(&ty)),
                        }));
                    }
                    if v.is_null() {
                        if !p.nullable {
                            let t = if p.c { format!("Collection({})", p.t) } else { p.t.clone() };
                            return Err(self.err(format!(
                                "A null value was found for the property named '{k}', which has the expected type '{t}[Nullable=False]'. The expected type '{t}[Nullable=False]' does not allow null values."
                            )));
                        }
                        continue;
                    }
                    if p.c {
                        let Value::Array(items) = v else { return Err(self.err(node_msg(v, "StartArray"))) };
                        for i in items {
                            self.value(&ty, k, &p.t, p.max, i)?;
                        }
                    } else {
                        self.value(&ty, k, &p.t, p.max, v)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// One (non-null) value of type `t`.
    fn value(
        &self,
        owner: &str,
        prop: &str,
        t: &str,
        max: Option<u32>,
        v: &Value,
    ) -> Result<(), GraphError> {
        let convert = || {
            self.err(format!(
                "Cannot convert the literal '{}' to the expected type '{t}'.",
                literal(v)
            ))
        };
        if let Some(e) = self.m.enum_def(t) {
            let Value::String(s) = v else {
                return Err(convert());
            };
            let members = self.m.enum_members(t, self.beta).unwrap_or_default();
            // Graph matches enum members case-insensitively (its docs' PIM
            // examples send `AfterDuration` for `afterDuration`).
            let known = |v: &str| members.iter().any(|m| m.eq_ignore_ascii_case(v));
            let ok = if e.flags {
                s.split(',').map(str::trim).all(known)
            } else {
                known(s)
            };
            return if ok { Ok(()) } else { Err(convert()) };
        }
        if self.m.type_def(t).is_some() {
            return match v {
                Value::Object(o) => self.object(o, t, false, true),
                other => Err(self.err(node_msg(other, "StartObject"))),
            };
        }
        // Beta-only properties the typings declare `any` (or in another
        // namespace): any value.
        if t == "Edm.Untyped" {
            return Ok(());
        }
        if matches!(v, Value::Array(_) | Value::Object(_)) {
            return Err(self.err(node_msg(v, "PrimitiveValue")));
        }
        let ok = match t {
            "Edm.String" => {
                match v.as_str() {
                    Some(s) => {
                        if max.is_some_and(|m| s.chars().count() > m as usize) {
                            return Err(match self.style {
                            Style::Directory => {
                                let resource = short(owner);
                                let mut r = resource.chars();
                                let resource: String = r.next().map(|f| f.to_uppercase().collect::<String>() + r.as_str()).unwrap_or_default();
                                GraphError::bad_request(format!("Invalid value specified for property '{prop}' of resource '{resource}'.")).with_detail("InvalidValue", prop)
                            }
                            _ => self.err(format!("The value of property '{prop}' exceeds the maximum length of {}.", max.unwrap_or_default())),
                        });
                        }
                        true
                    }
                    None => false,
                }
            }
            "Edm.Boolean" => v.is_boolean(),
            "Edm.Int32" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            "Edm.Int16" => v.as_i64().is_some_and(|n| i16::try_from(n).is_ok()),
            "Edm.Byte" => v.as_i64().is_some_and(|n| u8::try_from(n).is_ok()),
            "Edm.SByte" => v.as_i64().is_some_and(|n| i8::try_from(n).is_ok()),
            "Edm.Int64" => {
                v.is_i64() || v.is_u64() || v.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
            }
            "Edm.Double" | "Edm.Single" | "Edm.Decimal" => v.is_number(),
            "Edm.DateTimeOffset" => v
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            "Edm.Date" => v
                .as_str()
                .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
            "Edm.TimeOfDay" => v.as_str().is_some_and(|s| {
                chrono::NaiveTime::parse_from_str(s, "%H:%M:%S%.f").is_ok()
                    || chrono::NaiveTime::parse_from_str(s, "%H:%M:%S").is_ok()
            }),
            "Edm.Duration" => v.as_str().is_some_and(is_duration),
            "Edm.Guid" => v.as_str().is_some_and(is_guid),
            "Edm.Binary" => v.as_str().is_some_and(|s| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(s).is_ok()
            }),
            // Edm.Stream, Edm.Geography..., and anything newer: accepted.
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(convert())
        }
    }
}

/// ISO 8601 duration as OData writes it (`P1D`, `PT8H`, `-P2DT3H4M5.5S`).
fn is_duration(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let Some(rest) = s.strip_prefix('P') else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let units = |part: &str, allowed: &str| -> bool {
        let mut num = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() || ch == '.' {
                num.push(ch);
            } else if allowed.contains(ch) && !num.is_empty() {
                num.clear();
            } else {
                return false;
            }
        }
        num.is_empty()
    };
    units(date, "YMWD") && units(time, "HMS") && !(rest.contains('T') && time.is_empty())
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_guids() {
        assert!(
            is_duration("P1D")
                && is_duration("PT8H")
                && is_duration("-P2DT3H4M5.5S")
                && is_duration("P30D")
        );
        assert!(
            !is_duration("P") && !is_duration("PT") && !is_duration("1D") && !is_duration("P1X")
        );
        assert!(is_guid("5e7c2d1a-9b8f-4c3e-a2d1-0f9e8d7c6b5a"));
        assert!(!is_guid("5e7c2d1a-9b8f-4c3e-a2d1-0f9e8d7c6b5"));
    }

    #[test]
    fn body_kinds_follow_the_path() {
        assert!(matches!(
            body_kind(&["users"], "POST"),
            Body::Entity("user")
        ));
        assert!(matches!(
            body_kind(&["users", "u1"], "PATCH"),
            Body::Entity("user")
        ));
        assert!(matches!(
            body_kind(&["identity", "conditionalAccess", "policies"], "POST"),
            Body::Entity("conditionalAccessPolicy")
        ));
        assert!(matches!(
            body_kind(&["groups", "g", "members", "$ref"], "POST"),
            Body::Ref
        ));
        assert!(matches!(
            body_kind(
                &["deviceManagement", "deviceConfigurations", "p", "assign"],
                "POST"
            ),
            Body::Action(_)
        ));
        assert!(matches!(
            body_kind(&["directory", "deletedItems", "x", "restore"], "POST"),
            Body::Unchecked
        ));
    }
}
