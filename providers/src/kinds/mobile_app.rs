//! What the app kinds share (`winget_app`, `m365_apps`, `app_assignment`;
//! beta `deviceAppManagement/mobileApps`): one read of the collection with
//! assignments expanded (and filter names), assignments normalized per
//! install intent (`assignments` holds `required`, so the service-account
//! lints of policies apply to it; `assignmentsAvailable` and
//! `assignmentsUninstall`, `assignmentsAvailableWithoutEnrollment` the
//! others; each intent's assignment settings in `settings<Intent>`),
//! `/assign` with every intent (`mobileAppAssignments`; it replaces the
//! whole set, so an intent whose settings are not declared keeps the ones
//! its assignments have), and export of assignments and settings.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::mobile_app::{AppAssignmentSettings, AppAssignments, DeliveryPriority, InstallTime, IntentSettings, Notifications, RestartSettings};
use schema::kinds::Assignments;
use schema::{Address, DesiredState, Kind};
use serde_json::{json, Value};

use crate::apply::{err, fail, Writer};
use crate::export::Keys;
use crate::graph::{GraphError, GraphRequest, Method};
use crate::observe::{ReadCx, Readout};

use super::registry::BoxFuture;
use super::{desired_assignments, live_assignments, live_props, str_field};

pub const COLLECTION: &str = "/deviceAppManagement/mobileApps";
pub const WINGET: &str = "#microsoft.graph.winGetApp";
pub const OFFICE: &str = "#microsoft.graph.officeSuiteApp";
pub const ASSIGNMENT: &str = "#microsoft.graph.mobileAppAssignment";

/// Each intent (Graph's installIntent) and the prop its targets are in.
pub const INTENT_PROPS: [(&str, &str); 4] = [
    ("required", "assignments"),
    ("available", "assignmentsAvailable"),
    ("uninstall", "assignmentsUninstall"),
    ("availableWithoutEnrollment", "assignmentsAvailableWithoutEnrollment"),
];

/// Each intent and the prop its assignments' settings are in.
pub const SETTINGS_PROPS: [(&str, &str); 4] = [
    ("required", "settingsRequired"),
    ("available", "settingsAvailable"),
    ("uninstall", "settingsUninstall"),
    ("availableWithoutEnrollment", "settingsAvailableWithoutEnrollment"),
];

/// Where the read notes a live app's type (app_assignment's settings are
/// written in its type's settings type).
pub const APP_TYPE: &str = "@tenantctl.appType";

/// Declared settings as Graph's (camelCase, without `@odata.type`).
pub fn settings_json(s: &AppAssignmentSettings) -> Value {
    let mut m = serde_json::Map::new();
    if let Some(n) = s.notifications {
        let v = match n {
            Notifications::ShowAll => "showAll",
            Notifications::ShowReboot => "showReboot",
            Notifications::HideAll => "hideAll",
        };
        m.insert("notifications".into(), json!(v));
    }
    if let Some(r) = &s.restart {
        let mut x = serde_json::Map::new();
        x.insert("gracePeriodInMinutes".into(), json!(r.grace_period_minutes));
        x.insert("countdownDisplayBeforeRestartInMinutes".into(), json!(r.countdown_minutes));
        if let Some(z) = r.snooze_minutes {
            x.insert("restartNotificationSnoozeDurationInMinutes".into(), json!(z));
        }
        m.insert("restartSettings".into(), Value::Object(x));
    }
    if let Some(t) = &s.install_time {
        let mut x = serde_json::Map::new();
        x.insert("useLocalTime".into(), json!(t.use_local_time));
        if let Some(v) = &t.start {
            x.insert("startDateTime".into(), json!(v));
        }
        if let Some(v) = &t.deadline {
            x.insert("deadlineDateTime".into(), json!(v));
        }
        m.insert("installTimeSettings".into(), Value::Object(x));
    }
    if let Some(p) = s.delivery_optimization_priority {
        let v = match p {
            DeliveryPriority::NotConfigured => "notConfigured",
            DeliveryPriority::Foreground => "foreground",
        };
        m.insert("deliveryOptimizationPriority".into(), json!(v));
    }
    Value::Object(m)
}

/// Live settings (normalized) as desired state declares them (export);
/// None for settings holding only Graph's defaults.
fn settings_toml(v: &Value) -> Option<AppAssignmentSettings> {
    let num = |x: &Value, k: &str| x.get(k).and_then(Value::as_f64).map(|f| f.max(0.0) as u32);
    let s = AppAssignmentSettings {
        notifications: match v.get("notifications").and_then(Value::as_str) {
            Some("showReboot") => Some(Notifications::ShowReboot),
            Some("hideAll") => Some(Notifications::HideAll),
            _ => None,
        },
        restart: v.get("restartSettings").filter(|r| r.is_object()).map(|r| RestartSettings {
            grace_period_minutes: num(r, "gracePeriodInMinutes").unwrap_or(0),
            countdown_minutes: num(r, "countdownDisplayBeforeRestartInMinutes").unwrap_or(0),
            snooze_minutes: num(r, "restartNotificationSnoozeDurationInMinutes"),
        }),
        install_time: v.get("installTimeSettings").filter(|r| r.is_object()).map(|t| InstallTime {
            use_local_time: t.get("useLocalTime").and_then(Value::as_bool).unwrap_or(false),
            start: t.get("startDateTime").and_then(Value::as_str).map(str::to_string),
            deadline: t.get("deadlineDateTime").and_then(Value::as_str).map(str::to_string),
        }),
        delivery_optimization_priority: match v.get("deliveryOptimizationPriority").and_then(Value::as_str) {
            Some("foreground") => Some(DeliveryPriority::Foreground),
            _ => None,
        },
    };
    (s != AppAssignmentSettings::default()).then_some(s)
}

/// The settings type of an app type's assignments, if Graph has one.
fn settings_type(app_type: &str) -> Option<&'static str> {
    match app_type.trim_start_matches("#microsoft.graph.") {
        "win32LobApp" | "win32CatalogApp" => Some("#microsoft.graph.win32LobAppAssignmentSettings"),
        "winGetApp" => Some("#microsoft.graph.winGetAppAssignmentSettings"),
        _ => None,
    }
}

/// mobileApp's read-only and server-set properties (the docs' "This
/// property is read-only", and what Intune fills from the Store).
const SERVER_SET: &[&str] = &[
    "isAssigned",
    "dependentAppCount",
    "supersededAppCount",
    "supersedingAppCount",
    "uploadState",
    "publishingState",
    "largeIcon",
    "manifestHash",
    "assignments",
    "roleScopeTagIds",
];

/// The listing the read starts with (`KindProvider::listings`).
pub(crate) fn list_path() -> String {
    format!("{COLLECTION}?$expand=assignments&$top=999")
}

/// Puts an app's declared assignments in its props, one prop per intent,
/// and makes it depend on the declared filters they use.
pub(crate) fn insert_desired(props: &mut Props, state: &DesiredState, a: &AppAssignments) {
    // INTENT_PROPS and `by_intent` list the intents in the same order.
    for ((_, prop), (_, targets)) in INTENT_PROPS.iter().zip(a.by_intent()) {
        props.insert((*prop).into(), desired_assignments(state, targets));
    }
    insert_settings(props, &a.settings);
}

/// The declared settings of each intent, one prop per intent.
fn insert_settings(props: &mut Props, s: &IntentSettings) {
    for ((_, prop), (_, settings)) in SETTINGS_PROPS.iter().zip(s.by_intent()) {
        if let Some(settings) = settings {
            props.insert((*prop).into(), settings_json(settings));
        }
    }
}

/// The declared filters an app's assignments use (created before it).
pub(crate) fn filter_deps(state: &DesiredState, r: &mut DesiredResource) {
    let by_name: BTreeMap<String, Address> = state
        .assignment_filter
        .iter()
        .map(|(k, d)| (d.value.display_name.trim().to_lowercase(), Address::new(Kind::AssignmentFilter, k.as_str())))
        .collect();
    for (_, prop) in INTENT_PROPS {
        for f in super::filters_named(r.props.get(prop).unwrap_or(&Value::Null)) {
            if let Some(a) = by_name.get(&f) {
                if !r.depends_on.contains(a) {
                    r.depends_on.push(a.clone());
                }
            }
        }
    }
}

/// The prop names of an app's assignments (a change of only these is an
/// `assign`).
pub(crate) fn assignment_props() -> Vec<String> {
    INTENT_PROPS.iter().chain(SETTINGS_PROPS.iter()).map(|(_, p)| p.to_string()).collect()
}

/// A live app's assignments, per intent, normalized as policies' are.
fn live_intents(raw: &Value, props: &mut Props) {
    let all = raw.get("assignments").and_then(Value::as_array).cloned().unwrap_or_default();
    for ((intent, prop), (_, settings_prop)) in INTENT_PROPS.into_iter().zip(SETTINGS_PROPS) {
        let mine: Vec<Value> = all.iter().filter(|a| str_field(a, "intent").eq_ignore_ascii_case(intent)).cloned().collect();
        // The settings of the intent's assignments: one value when they
        // agree, all the distinct ones (never equal to a declared one) when not.
        let mut distinct: Vec<Value> = Vec::new();
        for a in &mine {
            let v = plain(a.get("settings").unwrap_or(&Value::Null));
            if !v.is_null() && !distinct.contains(&v) {
                distinct.push(v);
            }
        }
        match distinct.len() {
            0 => {}
            1 => {
                props.insert(settings_prop.into(), distinct.remove(0));
            }
            _ => {
                props.insert(settings_prop.into(), Value::Array(distinct));
            }
        }
        props.insert(prop.into(), live_assignments(&Value::Array(mine)));
    }
}

/// Nulls and `@odata.type` of nested complex values dropped, so a value
/// declared without them compares equal.
fn plain(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().filter(|(k, v)| !k.starts_with('@') && !v.is_null()).map(|(k, v)| (k.clone(), plain(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(plain).collect()),
        other => other.clone(),
    }
}

/// A live app of a declared kind, normalized.
pub fn normalize(raw: &Value, kind: Kind) -> LiveObject {
    let mut props: Props = live_props(raw, SERVER_SET).into_iter().map(|(k, v)| if k.starts_with('@') { (k, v) } else { (k, plain(&v)) }).collect();
    props.retain(|k, v| !v.is_null() || !k.starts_with('@'));
    live_intents(raw, &mut props);
    if let Some(tags) = super::scope_tag::live(raw) {
        props.insert("roleScopeTagIds".into(), tags);
    }
    LiveObject {
        kind,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props,
    }
}

/// A live app as an `app_assignment`: its assignments only.
fn as_assignment(raw: &Value) -> LiveObject {
    let mut props = Props::new();
    live_intents(raw, &mut props);
    // Which app this is, for approvers when it is not the one the ledger
    // recorded (never compared: desired state does not declare them).
    for (k, shown) in [("publisher", "@tenantctl.publisher"), ("fileName", "@tenantctl.fileName")] {
        if let Some(v) = raw.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            props.insert(shown.into(), json!(v));
        }
    }
    props.insert(APP_TYPE.into(), json!(str_field(raw, "@odata.type")));
    LiveObject {
        kind: Kind::AppAssignment,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").trim().to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props,
    }
}

/// The apps' read (`winget_app`'s, which `m365_apps` and `app_assignment`
/// share): Store apps and Microsoft 365 Apps by type; for each declared
/// `app_assignment`, the one app with its name (none or several: refused
/// at plan, naming them), and each one in the ledger by id; on export,
/// every other app with assignments.
pub(crate) fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let beta = cx.client.beta();
        let mut raw = beta.list_all(&list_path()).await?;
        super::intune_common::read_filter_names(&beta, &mut raw).await?;
        super::intune_common::record_modified(&raw, cx.modified);
        let mut out = Readout::default();
        let ty = |r: &Value| str_field(r, "@odata.type").to_string();
        for r in &raw {
            match ty(r).as_str() {
                WINGET => out.objects.push(normalize(r, Kind::WingetApp)),
                OFFICE => {
                    let mut o = normalize(r, Kind::M365Apps);
                    super::m365_apps::tidy(&mut o);
                    out.objects.push(o);
                }
                _ => {}
            }
        }
        let mut taken: BTreeSet<String> = BTreeSet::new();
        for (address, d) in cx.desired.resources.iter().filter(|(a, _)| a.kind == Kind::AppAssignment) {
            let wanted = d.natural_key.as_str();
            let owned = cx.ledger.resources.get(address).map(|e| e.id.as_str());
            let named: Vec<&Value> = raw.iter().filter(|r| str_field(r, "displayName").trim().to_lowercase() == wanted).collect();
            let one = match named.as_slice() {
                [one] => Some(*one),
                // The ledger's app among several with the name is the one.
                many if owned.is_some_and(|id| many.iter().any(|r| str_field(r, "id") == id)) => many.iter().copied().find(|r| Some(str_field(r, "id")) == owned),
                [] => {
                    out.refused.insert(address.clone(), format!("no app named `{}` exists in the tenant (deviceAppManagement/mobileApps)", d.display_name));
                    None
                }
                many => {
                    let ids: Vec<&str> = many.iter().map(|r| str_field(r, "id")).collect();
                    out.refused.insert(address.clone(), format!("{} apps are named `{}` ({}); refusing to guess which one's assignments to manage", many.len(), d.display_name, ids.join(", ")));
                    None
                }
            };
            if let Some(r) = one {
                taken.insert(str_field(r, "id").to_string());
                out.objects.push(as_assignment(r));
            }
        }
        // Owned but no longer declared: read by id, so a prune clears
        // the assignments tenantctl made.
        for (_, e) in cx.ledger.resources.iter().filter(|(a, _)| a.kind == Kind::AppAssignment && !cx.desired.resources.contains_key(*a)) {
            if let Some(r) = raw.iter().find(|r| str_field(r, "id") == e.id) {
                if taken.insert(e.id.clone()) {
                    out.objects.push(as_assignment(r));
                }
            }
        }
        if cx.everything {
            for r in raw.iter().filter(|r| !matches!(ty(r).as_str(), WINGET | OFFICE)) {
                let assigned = r.get("assignments").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
                if assigned && taken.insert(str_field(r, "id").to_string()) {
                    out.objects.push(as_assignment(r));
                }
            }
        }
        Ok(out)
    })
}

/// `/assign` with every intent's targets (it replaces the whole set).
pub(crate) async fn assign(w: &Writer<'_>, id: &str) -> Result<(), ExecError> {
    let r = w.desired()?;
    assign_props(w, id, &r.props).await
}

/// `/assign` of the intents in `props` (none: every assignment removed),
/// each assignment with its intent's settings: the declared ones, else
/// the ones the intent's live assignments have (`/assign` replaces them).
pub(crate) async fn assign_props(w: &Writer<'_>, id: &str, props: &Props) -> Result<(), ExecError> {
    // The app as it is now: its type (app_assignment's settings type) and
    // its intents' settings (kept where none are declared).
    let mut live = Props::new();
    let mut app_type = props.get("@odata.type").and_then(Value::as_str).unwrap_or_default().to_string();
    // An app assignment's plan carries them (`engine::plan_app_live`):
    // read again only when it does not (an app just created, a plan
    // without them).
    let planned = w.change().live.as_ref().filter(|_| w.address().kind == Kind::AppAssignment).filter(|l| l.get(APP_TYPE).and_then(Value::as_str).is_some_and(|t| !t.is_empty()));
    if INTENT_PROPS.iter().any(|(_, p)| props.contains_key(*p)) {
        match planned {
            Some(l) => {
                for (_, settings_prop) in SETTINGS_PROPS {
                    if let Some(v) = l.get(settings_prop) {
                        live.insert(settings_prop.into(), v.clone());
                    }
                }
                if app_type.is_empty() {
                    app_type = l.get(APP_TYPE).and_then(Value::as_str).unwrap_or_default().to_string();
                }
            }
            None => {
                let raw = w.send(&w.client().beta(), Method::GET, &format!("{COLLECTION}/{id}?$expand=assignments"), None).await?;
                live_intents(&raw, &mut live);
                if app_type.is_empty() {
                    app_type = str_field(&raw, "@odata.type").to_string();
                }
            }
        }
    }
    let lookup = |a: &str| w.ref_id(a);
    let named: Vec<String> = INTENT_PROPS.iter().flat_map(|(_, p)| super::filters_named(props.get(*p).unwrap_or(&Value::Null))).collect();
    let filters = if named.is_empty() {
        Vec::new()
    } else {
        w.client().beta().list_all("/deviceManagement/assignmentFilters").await.map_err(fail)?
    };
    let filter_id = |f: &str| super::resolve_filter(&filters, f);
    let mut all = Vec::new();
    for ((intent, prop), (_, settings_prop)) in INTENT_PROPS.into_iter().zip(SETTINGS_PROPS) {
        let Some(targets) = props.get(prop) else { continue };
        let body = super::assign_body(targets, &lookup, &filter_id, ASSIGNMENT).map_err(err)?;
        let settings = match props.get(settings_prop).or_else(|| live.get(settings_prop)).filter(|v| v.is_object()) {
            Some(Value::Object(m)) => {
                let ty = settings_type(&app_type).ok_or_else(|| err(format!("{}: a {} takes no assignment settings", w.address(), app_type.trim_start_matches("#microsoft.graph."))))?;
                let mut m = m.clone();
                m.insert("@odata.type".into(), json!(ty));
                Value::Object(m)
            }
            _ => Value::Null,
        };
        for mut a in body.get("assignments").and_then(Value::as_array).cloned().unwrap_or_default() {
            a["intent"] = json!(intent);
            if !settings.is_null() {
                a["settings"] = settings.clone();
            }
            all.push(a);
        }
    }
    let request = GraphRequest::new(Method::POST, format!("{COLLECTION}/{id}/assign")).json(json!({ "mobileAppAssignments": all })).safe_to_retry(true);
    w.execute(&w.client().beta(), request).await?;
    Ok(())
}

/// Whether the change touches any intent's assignments.
pub(crate) fn touches_assignments(w: &Writer<'_>) -> bool {
    let t = w.touched();
    INTENT_PROPS.iter().chain(SETTINGS_PROPS.iter()).any(|(_, p)| t.contains(*p))
}

/// POST an app (scope tags as ids), wait until readable, `/assign` it.
pub(crate) fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let r = w.desired()?;
        let skip: Vec<&str> = INTENT_PROPS.iter().chain(SETTINGS_PROPS.iter()).map(|(_, p)| *p).collect();
        let body = super::scope_tag::write_body(r, &skip, &|a| w.ref_id(a)).map_err(err)?;
        let id = w.post_new(COLLECTION, body).await?;
        w.wait(&w.api(), &format!("{COLLECTION}/{id}")).await?;
        assign(w, &id).await?;
        Ok(id)
    })
}

/// PATCH what changed (with `@odata.type`), then `/assign` if any intent did.
pub(crate) fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let skip: Vec<&str> = INTENT_PROPS.iter().chain(SETTINGS_PROPS.iter()).map(|(_, p)| *p).collect();
        super::intune_common::patch_policy(w, id, &skip).await?;
        if touches_assignments(w) {
            assign(w, id).await?;
        }
        Ok(())
    })
}

/// An app's assignments as desired state declares them (export).
pub(crate) fn export_assignments(p: &Props, keys: &Keys) -> Result<AppAssignments, String> {
    let one = |prop: &str| -> Result<Assignments, String> {
        let mut m = Props::new();
        m.insert("assignments".into(), p.get(prop).cloned().unwrap_or(Value::Null));
        super::intune_common::assignments(&m, keys)
    };
    let settings = |prop: &str| p.get(prop).and_then(settings_toml);
    Ok(AppAssignments {
        required: one("assignments")?,
        available: one("assignmentsAvailable")?,
        uninstall: one("assignmentsUninstall")?,
        available_without_enrollment: one("assignmentsAvailableWithoutEnrollment")?,
        settings: IntentSettings {
            required: settings("settingsRequired"),
            available: settings("settingsAvailable"),
            uninstall: settings("settingsUninstall"),
            available_without_enrollment: settings("settingsAvailableWithoutEnrollment"),
        },
    })
}

/// Live props' optional text property.
pub(crate) fn text(p: &Props, k: &str) -> Option<String> {
    p.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}
