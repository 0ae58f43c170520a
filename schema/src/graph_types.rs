//! Stage 1 checks of `device_configuration` and `compliance_policy`
//! settings against Graph's published metadata (the generated
//! `graph-metadata` crate, the same source the sandbox uses): the declared
//! `odata_type` must be a device configuration or compliance type, every
//! setting must be a property of it, of the right value type, within its
//! enum and its length. Beta-only types and properties are checked the
//! same way: graph-metadata types them from the beta TypeScript
//! declarations (Microsoft publishes no beta CSDL); the few those give no
//! type for are checked by name only.

use std::collections::BTreeMap;

use graph_metadata::{full_name, metadata, Metadata, PropInfo};

use crate::address::Kind;
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Origin};
use crate::source::{Seg, SourceFile};
use crate::state::DesiredState;
use crate::suggest::closest;

/// Settings tenantctl manages itself; `validate` reports them on its own.
pub(crate) const RESERVED: &[&str] = &[
    "@odata.type",
    "id",
    "displayName",
    "description",
    "assignments",
    "createdDateTime",
    "lastModifiedDateTime",
    "version",
    "scheduledActionsForRule",
];

struct Cx<'a> {
    m: &'a Metadata,
    sources: &'a [SourceFile],
    diags: &'a mut Diagnostics,
    origin: &'a Origin,
    /// `device_configuration.KEY`
    addr: String,
}

impl Cx<'_> {
    fn error(&mut self, code: &'static str, path: &[Seg], message: String, help: Option<String>) {
        // An unknown name is shown at its key, a wrong value at the value.
        let loc = self
            .sources
            .iter()
            .find(|s| s.holds(self.origin))
            .map(|s| {
                if code == "unknown-setting" {
                    s.locate_key(path)
                } else {
                    s.locate(path)
                }
            })
            .unwrap_or_else(|| Location::file(&self.origin.file));
        let mut d = Diagnostic::error(code, message).at(Some(loc));
        d.help = help;
        self.diags.push(d);
    }
}

/// Runs every check; called once from [`crate::validate::validate_at`].
pub fn check(state: &DesiredState, sources: &[SourceFile], diags: &mut Diagnostics) {
    let m = metadata();
    let kinds = [
        (Kind::DeviceConfiguration, "deviceConfiguration", "device configuration"),
        (Kind::CompliancePolicy, "deviceCompliancePolicy", "compliance policy"),
    ];
    // The concrete types of each base, computed once: finding them walks
    // every type of the metadata (thousands), which per policy was half of
    // loading 10,000 policies.
    let concrete = kinds.map(|(_, base, _)| concrete_types(m, base));
    let policies = state
        .device_configuration
        .iter()
        .map(|(k, d)| (0, k, &d.origin, &d.value.odata_type, &d.value.settings))
        .chain(state.compliance_policy.iter().map(|(k, d)| (1, k, &d.origin, &d.value.odata_type, &d.value.settings)));
    for (i, key, origin, odata_type, settings) in policies {
        let (kind, base, noun) = kinds[i];
        let mut cx = Cx {
            m,
            sources,
            diags: &mut *diags,
            origin,
            addr: format!("{kind}.{key}"),
        };
        check_policy(&mut cx, kind, key, (base, &concrete[i]), noun, odata_type, settings);
    }
}

/// The non-abstract types derived from `base` (beta included).
fn concrete_types<'m>(m: &'m Metadata, base: &str) -> Vec<&'m str> {
    m.derived_types(base, true)
        .into_iter()
        .filter(|t| m.type_def(t).is_some_and(|d| !d.r#abstract))
        .collect()
}

fn short(t: &str) -> &str {
    t.rsplit('.').next().unwrap_or(t)
}

fn check_policy(
    cx: &mut Cx,
    kind: Kind,
    key: &str,
    (base, concrete): (&str, &[&str]),
    what: &str,
    odata_type: &str,
    settings: &BTreeMap<String, toml::Value>,
) {
    let ty = full_name(odata_type.trim_start_matches('#'));
    if !concrete.contains(&ty.as_str()) {
        let help = closest(short(&ty), concrete.iter().map(|t| short(t)))
            .map(|s| format!("did you mean `{s}`?"));
        let addr = cx.addr.clone();
        cx.error(
            "graph-type",
            &[Seg::from(kind.as_str()), Seg::from(key), Seg::from("odata_type")],
            format!("{addr}: `{odata_type}` is not a Graph {what} type (one derived from microsoft.graph.{base})"),
            help,
        );
        return;
    }
    for (name, value) in settings {
        if RESERVED.contains(&name.as_str()) {
            continue;
        }
        let path = vec![
            Seg::from(kind.as_str()),
            Seg::from(key),
            Seg::from("settings"),
            Seg::from(name.as_str()),
        ];
        object_prop(cx, &ty, name, value, path, true);
    }
}

/// One property `name` of an object of type `ty`.
fn object_prop(cx: &mut Cx, ty: &str, name: &str, value: &toml::Value, path: Vec<Seg>, top: bool) {
    if name.starts_with('@') {
        return;
    }
    let props = cx.m.properties(ty, true);
    let addr = cx.addr.clone();
    match props.get(name) {
        None => {
            let help = if top && name == "rollout" {
                Some(format!("`rollout` is a table of the policy, not a Graph setting: write it as [{addr}.rollout], outside [{addr}.settings]"))
            } else {
                closest(name, props.keys().copied()).map(|s| format!("did you mean `{s}`?"))
            };
            cx.error(
                "unknown-setting",
                &path,
                format!("{addr}: `{name}` is not a property of {}", short(ty)),
                help,
            );
        }
        Some(PropInfo::NameOnly) => {}
        Some(PropInfo::Navigation { .. }) => {
            cx.error(
                "unknown-setting",
                &path,
                format!(
                    "{addr}: `{name}` is a relationship of {}, not a setting",
                    short(ty)
                ),
                None,
            );
        }
        Some(PropInfo::Typed(p)) => {
            if p.ro {
                cx.error(
                    "read-only-setting",
                    &path,
                    format!("{addr}: `{name}` is read-only in Graph"),
                    None,
                );
                return;
            }
            let (t, max, collection) = (p.t.clone(), p.max, p.c);
            if collection {
                match value {
                    toml::Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let mut p = path.clone();
                            p.push(Seg::Index(i));
                            one_value(cx, name, &t, max, item, p);
                        }
                    }
                    _ => cx.error(
                        "setting-type",
                        &path,
                        format!("{addr}: `{name}` is a list of {} in Graph", shown(&t)),
                        None,
                    ),
                }
            } else {
                one_value(cx, name, &t, max, value, path);
            }
        }
    }
}

fn shown(t: &str) -> String {
    match t {
        "Edm.String" => "strings".into(),
        "Edm.Boolean" => "booleans".into(),
        t if t.starts_with("Edm.Int") || t == "Edm.Byte" => "integers".into(),
        t => short(t).to_string(),
    }
}

fn toml_kind(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}

/// One value of Graph type `t`.
fn one_value(cx: &mut Cx, name: &str, t: &str, max: Option<u32>, v: &toml::Value, path: Vec<Seg>) {
    let addr = cx.addr.clone();
    if cx.m.enum_def(t).is_some() {
        let members = cx.m.enum_members(t, true).unwrap_or_default();
        let ok = match v {
            toml::Value::String(s) => {
                let flags = cx.m.enum_def(t).is_some_and(|e| e.flags);
                let known = |x: &str| members.iter().any(|m| m.eq_ignore_ascii_case(x));
                if flags {
                    s.split(',').map(str::trim).all(known)
                } else {
                    known(s)
                }
            }
            _ => false,
        };
        if !ok {
            let help = match v {
                toml::Value::String(s) => {
                    closest(s, members.iter().copied()).map(|c| format!("did you mean `{c}`?"))
                }
                _ => None,
            }
            .or_else(|| {
                Some(format!(
                    "one of: {}",
                    members
                        .iter()
                        .filter(|m| **m != "unknownFutureValue")
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
            cx.error(
                "setting-value",
                &path,
                format!("{addr}: `{name}` = {v} is not a value of {}", short(t)),
                help,
            );
        }
        return;
    }
    if cx.m.type_def(t).is_some() {
        match v {
            toml::Value::Table(tbl) => {
                let mut ty = t.to_string();
                if let Some(given) = tbl.get("@odata.type").and_then(toml::Value::as_str) {
                    let g = full_name(given);
                    if cx.m.is_a(&g, t) {
                        ty = g;
                    } else {
                        let mut p = path.clone();
                        p.push(Seg::from("@odata.type"));
                        cx.error(
                            "setting-type",
                            &p,
                            format!("{addr}: `{given}` is not a kind of {}", short(t)),
                            None,
                        );
                        return;
                    }
                }
                for (k, val) in tbl {
                    let mut p = path.clone();
                    p.push(Seg::from(k.as_str()));
                    object_prop(cx, &ty, k, val, p, false);
                }
            }
            other => cx.error(
                "setting-type",
                &path,
                format!(
                    "{addr}: `{name}` is a {} table in Graph, not {}",
                    short(t),
                    toml_kind(other)
                ),
                None,
            ),
        }
        return;
    }
    let ok = match t {
        "Edm.String" => match v {
            toml::Value::String(s) => {
                if let Some(m) = max.filter(|m| s.chars().count() > *m as usize) {
                    cx.error(
                        "too-long",
                        &path,
                        format!(
                            "{addr}: `{name}` is {} characters; Graph allows at most {m}",
                            s.chars().count()
                        ),
                        None,
                    );
                }
                true
            }
            _ => false,
        },
        "Edm.Boolean" => v.is_bool(),
        "Edm.Int32" => v.as_integer().is_some_and(|n| i32::try_from(n).is_ok()),
        "Edm.Int16" => v.as_integer().is_some_and(|n| i16::try_from(n).is_ok()),
        "Edm.Byte" => v.as_integer().is_some_and(|n| u8::try_from(n).is_ok()),
        "Edm.Int64" => v.is_integer(),
        "Edm.Double" | "Edm.Single" | "Edm.Decimal" => v.is_integer() || v.is_float(),
        "Edm.DateTimeOffset" => {
            v.is_datetime()
                || v.as_str()
                    .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
        }
        "Edm.Date" | "Edm.TimeOfDay" | "Edm.Duration" | "Edm.Guid" | "Edm.Binary" => {
            v.is_str() || v.is_datetime()
        }
        _ => true,
    };
    if !ok {
        let want = match t {
            "Edm.String" | "Edm.Date" | "Edm.TimeOfDay" | "Edm.Duration" | "Edm.Guid"
            | "Edm.Binary" => "a string".to_string(),
            "Edm.Boolean" => "true or false".to_string(),
            t if t.starts_with("Edm.Int") || t == "Edm.Byte" => {
                format!("an integer ({})", short(t))
            }
            "Edm.Double" | "Edm.Single" | "Edm.Decimal" => "a number".to_string(),
            "Edm.DateTimeOffset" => "a date-time".to_string(),
            t => t.to_string(),
        };
        cx.error(
            "setting-type",
            &path,
            format!("{addr}: `{name}` must be {want}, not {}", toml_kind(v)),
            None,
        );
    }
}

/// The body of a `[graph_object.KEY]` of type `ty` (full name), checked as
/// device configuration settings are: every property must exist on the
/// type (beta's too with `beta`), with a value of its type; read-only
/// properties and relationships are refused, and so are `id` and
/// `@odata.*` annotations (the key and `odata_type` say them).
pub(crate) fn check_object_body(
    sources: &[SourceFile],
    diags: &mut Diagnostics,
    origin: &Origin,
    key: &str,
    ty: &str,
    beta: bool,
    body: &BTreeMap<String, toml::Value>,
) {
    let mut cx = Cx { m: metadata(), sources, diags, origin, addr: format!("graph_object.{key}") };
    let props = cx.m.properties(ty, beta);
    for (name, value) in body {
        let path = vec![Seg::from("graph_object"), Seg::from(key), Seg::from("body"), Seg::from(name.as_str())];
        if name == "id" || name.starts_with('@') {
            let addr = cx.addr.clone();
            cx.error("read-only-setting", &path, format!("{addr}: `{name}` is set by Graph, not declared in body"), Some("the object's id is kept in the ledger; its type is `odata_type`".into()));
            continue;
        }
        let beta_only = !beta && !props.contains_key(name.as_str()) && cx.m.properties(ty, true).contains_key(name.as_str());
        if beta_only {
            let addr = cx.addr.clone();
            cx.error("unknown-setting", &path, format!("{addr}: `{name}` exists only in Graph beta; set api = \"beta\""), None);
            continue;
        }
        object_prop(&mut cx, ty, name, value, path, false);
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::Diagnostics;
    use graph_metadata::PropInfo;

    fn diags(toml_text: &str) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("p.toml"), toml_text).expect("write");
        match crate::load(dir.path()) {
            Err(crate::LoadError::Invalid(d)) => {
                let d: &Diagnostics = &d;
                d.errors()
                    .map(|d| {
                        let at = d
                            .location
                            .as_ref()
                            .map(|l| format!("{}:{}:{}", l.file.display(), l.line, l.column))
                            .unwrap_or_default();
                        format!(
                            "{} {} {} @{at}",
                            d.code,
                            d.message,
                            d.help.clone().unwrap_or_default()
                        )
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    #[test]
    fn settings_are_checked_against_the_declared_type() {
        let errs = diags(
            r#"
[device_configuration.general]
odata_type = "windows10GeneralConfiguration"
display_name = "General"
[device_configuration.general.settings]
passwordRequred = true
passwordMinimumLength = "8"
passwordRequiredType = "alphanum"
rollout = { rings = ["group.test"] }
"#,
        );
        let all = errs.join("\n");
        assert!(
            all.contains("unknown-setting")
                && all.contains("`passwordRequred`")
                && all.contains("did you mean `passwordRequired`?"),
            "{all}"
        );
        let typo = errs
            .iter()
            .find(|e| e.contains("`passwordRequred`"))
            .expect("reported");
        assert!(
            typo.ends_with("p.toml:6:1"),
            "located at the setting: {typo}"
        );
        assert!(
            all.contains("`passwordMinimumLength` must be an integer"),
            "{all}"
        );
        assert!(
            all.contains(
                "`passwordRequiredType` = \"alphanum\" is not a value of requiredPasswordType"
            ) && all.contains("did you mean `alphanumeric`?"),
            "{all}"
        );
        assert!(
            all.contains("`rollout` is a table of the policy, not a Graph setting"),
            "{all}"
        );
    }

    #[test]
    fn the_type_must_be_a_device_configuration_or_compliance_type() {
        let all = diags(
            r#"
[device_configuration.feature]
odata_type = "windowsFeatureUpdateProfile"
display_name = "Feature"
[compliance_policy.wrong]
odata_type = "windows10CompliancePolicyy"
display_name = "Wrong"
"#,
        )
        .join("\n");
        assert!(
            all.contains("`windowsFeatureUpdateProfile` is not a Graph device configuration type"),
            "{all}"
        );
        assert!(
            all.contains("`windows10CompliancePolicyy` is not a Graph compliance policy type")
                && all.contains("did you mean `windows10CompliancePolicy`?"),
            "{all}"
        );
    }

    #[test]
    fn beta_settings_are_checked_by_type_and_enum_value() {
        let errs = diags(
            r#"
[device_configuration.android]
odata_type = "androidDeviceOwnerGeneralDeviceConfiguration"
display_name = "Android"
[device_configuration.android.settings]
passwordMinimumLength = "8"
appsAutoUpdatePolicy = "sometimes"
appsAllowInstallFromUnknownSources = true
[device_configuration.general]
odata_type = "windows10GeneralConfiguration"
display_name = "General"
[device_configuration.general.settings]
roleScopeTagIds = "0"
edgeBlockPrinting = "yes"
"#,
        );
        let all = errs.join("\n");
        let find = |needle: &str| {
            errs.iter()
                .find(|e| e.contains(needle))
                .unwrap_or_else(|| panic!("{needle} not reported:\n{all}"))
                .clone()
        };
        assert!(
            find("`passwordMinimumLength` must be a number").ends_with("p.toml:6:25"),
            "{all}"
        );
        assert!(
            find("`appsAutoUpdatePolicy` = \"sometimes\" is not a value of androidDeviceOwnerAppAutoUpdatePolicyType")
                .ends_with("p.toml:7:24"),
            "{all}"
        );
        assert!(
            find("`roleScopeTagIds` is a list of strings").ends_with("p.toml:13:19"),
            "{all}"
        );
        assert!(
            find("`edgeBlockPrinting` must be true or false").ends_with("p.toml:14:21"),
            "{all}"
        );
        assert!(!all.contains("appsAllowInstallFromUnknownSources"), "{all}");
        assert_eq!(errs.len(), 4, "{all}");
    }

    #[test]
    fn autopilot_and_filter_values_are_members_of_graphs_beta_enums() {
        use crate::kinds::assignment::FilterMode;
        use crate::kinds::autopilot_profile::{DeviceType, DeviceUsageType, OobeUserType};
        let m = graph_metadata::metadata();
        let member = |e: &str, v: String| {
            let members = m.enum_members(e, true).unwrap_or_default();
            assert!(
                members.contains(&v.trim_matches('"')),
                "{v} is not a member of {e}: {members:?}"
            );
        };
        fn json<T: serde::Serialize>(v: &T) -> String {
            serde_json::to_string(v).unwrap_or_default()
        }
        for v in [
            DeviceType::WindowsPc,
            DeviceType::SurfaceHub2,
            DeviceType::HoloLens,
            DeviceType::SurfaceHub2S,
            DeviceType::VirtualMachine,
        ] {
            member("windowsAutopilotDeviceType", json(&v));
        }
        for v in [OobeUserType::Standard, OobeUserType::Administrator] {
            member("windowsUserType", json(&v));
        }
        for v in [DeviceUsageType::SingleUser, DeviceUsageType::Shared] {
            member("windowsDeviceUsageType", json(&v));
        }
        for v in [FilterMode::Include, FilterMode::Exclude] {
            member(
                "deviceAndAppManagementAssignmentFilterType",
                v.as_str().to_string(),
            );
        }
        // Each profile property tenantctl writes is a typed property of the
        // beta profile types.
        let props = m.properties("azureADWindowsAutopilotDeploymentProfile", true);
        for p in [
            "displayName",
            "description",
            "deviceNameTemplate",
            "deviceType",
            "locale",
            "preprovisioningAllowed",
            "hardwareHashExtractionEnabled",
            "outOfBoxExperienceSetting",
            "roleScopeTagIds",
        ] {
            assert!(
                matches!(props.get(p), Some(PropInfo::Typed(_))),
                "{p}: {:?}",
                props.get(p)
            );
        }
    }
}

