//! The resource table: one [`Spec`] per Graph collection, naming its path,
//! versions, paging limits and the hooks through which resource-specific
//! behaviour (validation, side effects, sub-resources) plugs into the
//! generic collection handlers in [`crate::graph`].

use crate::error::GraphError;
use crate::graph::{Ctx, GReq, GResp};
use crate::odata::{Expand, Query};
use crate::store::{ChangeKind, Record, Tenant};
use serde_json::{json, Map, Value};

/// Which part of Graph a collection belongs to; it decides error wording,
/// `$skip`/`$count` rules and page sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Entra ID directory objects (users, groups, roles).
    Directory,
    /// Intune (`deviceManagement/...`).
    Intune,
    /// Everything else (conditional access).
    Other,
}

pub type CreateFn = fn(&mut Tenant, &Ctx, &Spec, Map<String, Value>) -> Result<String, GraphError>;
pub type PatchFn = fn(&mut Tenant, &Ctx, &Spec, &str, Map<String, Value>) -> Result<(), GraphError>;
pub type DeleteFn = fn(&mut Tenant, &Ctx, &Spec, &str) -> Result<(), GraphError>;
pub type ExpandFn = fn(&Tenant, &Ctx, &Spec, &str, &Record, &Expand, &mut Map<String, Value>) -> Result<(), GraphError>;
pub type SubFn = fn(&mut Tenant, &Ctx, &Spec, &GReq, &str, &[&str], &Query) -> Result<GResp, GraphError>;

/// One Graph collection and its behaviour.
pub struct Spec {
    /// Store key.
    pub coll: &'static str,
    /// Path segments after the version.
    pub path: &'static [&'static str],
    pub beta_only: bool,
    pub family: Family,
    /// `$metadata#...` name of the collection.
    pub context: &'static str,
    pub default_page: usize,
    pub max_top: usize,
    /// Properties returned when no `$select` is given (users).
    pub default_select: Option<&'static [&'static str]>,
    pub create: Option<CreateFn>,
    pub patch: Option<PatchFn>,
    /// Whether PUT is accepted as a full update (settings catalog).
    pub put: bool,
    /// 204, or 200 with the entity.
    pub patch_status: u16,
    pub delete: Option<DeleteFn>,
    /// Resolves a path segment to an id (users also accept a UPN).
    pub lookup: fn(&Tenant, &str) -> Option<String>,
    /// Hides stored records (expired schedules).
    pub visible: fn(&Record, &Ctx) -> bool,
    pub expand: ExpandFn,
    /// Handles `/{collection}/{id}/{rest...}`.
    pub sub: SubFn,
    /// The metadata entity type POST and PATCH/PUT bodies are checked
    /// against (`validate_write`); None: not checked.
    pub entity: Option<&'static str>,
    /// The `@odata.type` of its assignment entities (Intune collections
    /// with `/assign`).
    pub assignment_type: Option<&'static str>,
    /// Whether `/delta` is served.
    pub delta: bool,
    /// What writes below a member (`/{id}/assign` ...) are checked against
    /// (`validate_write`), beside the entity for POST and PATCH/PUT.
    pub writes: &'static [WriteRule],
}

/// What `validate_write` checks a write body against: an entity, or an
/// action's parameters (name -> collection element type).
#[derive(Clone, Copy)]
pub enum WriteBody {
    Entity(&'static str),
    Action(&'static [(&'static str, &'static str)]),
}

/// One write below a collection's members: `rest` is the path after the
/// collection (`{id}` stands for any segment).
pub struct WriteRule {
    pub method: &'static str,
    pub rest: &'static [&'static str],
    pub body: WriteBody,
}

/// `POST /{id}/assign` with one array parameter of assignments:
/// `assign_rule!("assignments", "deviceConfigurationAssignment")`.
macro_rules! assign_rule {
    ($param:literal, $assignment:literal) => {
        $crate::resources::WriteRule { method: "POST", rest: &["{id}", "assign"], body: $crate::resources::WriteBody::Action(&[($param, $assignment)]) }
    };
}
pub(crate) use assign_rule;

/// Directory page sizes: default 100, `$top` up to 999 (MS Q&A 120381).
pub const DIR_PAGE: usize = 100;
pub const DIR_MAX: usize = 999;
/// Intune page sizes. Intune documents no default; 100 per page keeps clients
/// honest about following `@odata.nextLink`, and `$top` up to 1000 is honoured.
pub const INTUNE_PAGE: usize = 100;
pub const INTUNE_MAX: usize = 1000;

pub fn lookup_id(t: &Tenant, spec_coll: &str, seg: &str) -> Option<String> {
    t.get(spec_coll, seg).map(|_| seg.to_string())
}

pub fn always_visible(_: &Record, _: &Ctx) -> bool {
    true
}

pub fn no_expand(_: &Tenant, _: &Ctx, spec: &Spec, _: &str, _: &Record, e: &Expand, _: &mut Map<String, Value>) -> Result<(), GraphError> {
    Err(GraphError::bad_request(format!("Could not find a property named '{}' on type '{}'.", e.name, spec.context)))
}

pub fn no_sub(_: &mut Tenant, _: &Ctx, _: &Spec, _: &GReq, _: &str, rest: &[&str], _: &Query) -> Result<GResp, GraphError> {
    Err(GraphError::no_segment(rest.first().copied().unwrap_or("")))
}

/// A new GUID-shaped id.
pub fn new_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// Stores a new object with a fresh id (or the one in `data`) and
/// server-set timestamps.
pub fn insert_new(t: &mut Tenant, ctx: &Ctx, coll: &str, mut data: Map<String, Value>, nav: Map<String, Value>) -> String {
    let id = match data.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() && t.get(coll, id).is_none() => id.to_string(),
        _ => new_id(),
    };
    data.insert("id".into(), json!(id));
    let mut ordered = Map::new();
    if let Some(tp) = data.remove("@odata.type") {
        ordered.insert("@odata.type".into(), tp);
    }
    ordered.insert("id".into(), json!(id));
    ordered.extend(data);
    t.put(coll, &id, Record { data: ordered, nav, created_ms: ctx.now_ms });
    id
}

/// Default create: store the body as given.
pub fn create_plain(t: &mut Tenant, ctx: &Ctx, spec: &Spec, body: Map<String, Value>) -> Result<String, GraphError> {
    Ok(insert_new(t, ctx, spec.coll, body, Map::new()))
}

/// Default patch: merge top-level properties (`id` is immutable).
pub fn patch_merge(t: &mut Tenant, _: &Ctx, spec: &Spec, id: &str, body: Map<String, Value>) -> Result<(), GraphError> {
    t.update(spec.coll, id, |r| {
        for (k, v) in body {
            if k != "id" && !k.ends_with("@odata.bind") {
                r.data.insert(k, v);
            }
        }
    });
    Ok(())
}

/// Default delete: permanent.
pub fn delete_hard(t: &mut Tenant, _: &Ctx, spec: &Spec, id: &str) -> Result<(), GraphError> {
    t.remove(spec.coll, id, ChangeKind::HardDelete);
    t.purge_links(id);
    Ok(())
}

macro_rules! lookup_fn {
    ($name:ident, $coll:expr) => {
        fn $name(t: &Tenant, seg: &str) -> Option<String> {
            lookup_id(t, $coll, seg)
        }
    };
}
lookup_fn!(lookup_groups, "groups");
lookup_fn!(lookup_elig_req, "roleEligibilityScheduleRequests");
lookup_fn!(lookup_assign_req, "roleAssignmentScheduleRequests");
lookup_fn!(lookup_elig_sched, "roleEligibilitySchedules");
lookup_fn!(lookup_assign_sched, "roleAssignmentSchedules");
lookup_fn!(lookup_resource_requests, "accessPackageResourceRequests");
lookup_fn!(lookup_assignment_policies, "accessPackageAssignmentPolicies");
lookup_fn!(lookup_package_assignments, "accessPackageAssignments");

/// A directory-family collection with no behaviour of its own (the base
/// the kinds' specs fill in).
pub const fn dir(coll: &'static str, path: &'static [&'static str], context: &'static str) -> Spec {
    Spec {
        coll,
        path,
        beta_only: false,
        family: Family::Directory,
        context,
        default_page: DIR_PAGE,
        max_top: DIR_MAX,
        default_select: None,
        create: None,
        patch: None,
        put: false,
        patch_status: 204,
        delete: None,
        lookup: lookup_groups,
        visible: always_visible,
        expand: no_expand,
        sub: no_sub,
        entity: None,
        assignment_type: None,
        delta: false,
        writes: &[],
    }
}

/// An Intune collection with the generic Intune rules ([`crate::intune`]).
pub const fn intune(coll: &'static str, path: &'static [&'static str], context: &'static str) -> Spec {
    Spec {
        family: Family::Intune,
        default_page: INTUNE_PAGE,
        max_top: INTUNE_MAX,
        create: Some(crate::intune::create),
        patch: Some(crate::intune::patch),
        delete: Some(crate::intune::delete),
        expand: crate::intune::expand,
        sub: crate::intune::sub,
        ..dir(coll, path, context)
    }
}

/// Every collection the sandbox serves.
pub static SPECS: &[Spec] = &[
    Spec {
        create: Some(crate::pim::create_eligibility_request),
        lookup: lookup_elig_req,
        expand: crate::roles::expand,
        entity: Some("unifiedRoleEligibilityScheduleRequest"),
        ..dir("roleEligibilityScheduleRequests", &["roleManagement", "directory", "roleEligibilityScheduleRequests"], "roleManagement/directory/roleEligibilityScheduleRequests")
    },
    Spec {
        create: Some(crate::pim::create_assignment_request),
        lookup: lookup_assign_req,
        expand: crate::roles::expand,
        entity: Some("unifiedRoleAssignmentScheduleRequest"),
        ..dir("roleAssignmentScheduleRequests", &["roleManagement", "directory", "roleAssignmentScheduleRequests"], "roleManagement/directory/roleAssignmentScheduleRequests")
    },
    Spec {
        lookup: lookup_elig_sched,
        visible: crate::pim::schedule_active,
        expand: crate::roles::expand,
        ..dir("roleEligibilitySchedules", &["roleManagement", "directory", "roleEligibilitySchedules"], "roleManagement/directory/roleEligibilitySchedules")
    },
    Spec {
        lookup: lookup_elig_sched,
        visible: crate::pim::schedule_active,
        expand: crate::roles::expand,
        ..dir("roleEligibilitySchedules", &["roleManagement", "directory", "roleEligibilityScheduleInstances"], "roleManagement/directory/roleEligibilityScheduleInstances")
    },
    Spec {
        lookup: lookup_assign_sched,
        visible: crate::pim::schedule_active,
        expand: crate::roles::expand,
        ..dir("roleAssignmentSchedules", &["roleManagement", "directory", "roleAssignmentSchedules"], "roleManagement/directory/roleAssignmentSchedules")
    },
    Spec {
        lookup: lookup_assign_sched,
        visible: crate::pim::schedule_active,
        expand: crate::roles::expand,
        ..dir("roleAssignmentSchedules", &["roleManagement", "directory", "roleAssignmentScheduleInstances"], "roleManagement/directory/roleAssignmentScheduleInstances")
    },
    Spec {
        family: Family::Other,
        create: Some(crate::entitlement::create_resource_request),
        lookup: lookup_resource_requests,
        entity: Some("accessPackageResourceRequest"),
        ..dir(crate::entitlement::RESOURCE_REQUESTS, &["identityGovernance", "entitlementManagement", "resourceRequests"], "identityGovernance/entitlementManagement/resourceRequests")
    },
    Spec {
        family: Family::Other,
        put: true,
        create: Some(crate::entitlement::create_policy),
        patch: Some(crate::entitlement::replace_policy),
        delete: Some(crate::entitlement::delete_policy),
        lookup: lookup_assignment_policies,
        expand: crate::entitlement::expand_policy,
        entity: Some("accessPackageAssignmentPolicy"),
        ..dir(crate::entitlement::POLICIES, &["identityGovernance", "entitlementManagement", "assignmentPolicies"], "identityGovernance/entitlementManagement/assignmentPolicies")
    },
    Spec {
        family: Family::Other,
        lookup: lookup_package_assignments,
        expand: crate::entitlement_assignments::expand_assignment,
        ..dir(crate::entitlement::ASSIGNMENTS, &["identityGovernance", "entitlementManagement", "assignments"], "identityGovernance/entitlementManagement/assignments")
    },
];

/// The collections of the kinds, each declared (with its write rules) in
/// its own sandbox module: one line per collection.
pub static KIND_SPECS: &[&Spec] = &[
    &crate::directory::USERS_SPEC,
    &crate::groups::SPEC,
    &crate::role_definitions::SPEC,
    &crate::roles::ASSIGNMENTS_SPEC,
    &crate::intune::DEVICE_CONFIGURATIONS_SPEC,
    &crate::intune::COMPLIANCE_SPEC,
    &crate::settings_catalog::SPEC,
    &crate::autopilot::SPEC,
    &crate::intune::FILTERS_SPEC,
    &crate::update_profiles::FEATURE_SPEC,
    &crate::update_profiles::QUALITY_SPEC,
    &crate::update_profiles::DRIVER_SPEC,
    &crate::scope_tags::SPEC,
    &crate::device_categories::SPEC,
    &crate::conditional_access::SPEC,
    &crate::ca_objects::LOCATIONS_SPEC,
    &crate::ca_objects::STRENGTHS_SPEC,
    &crate::scripts::PLATFORM_SPEC,
    &crate::scripts::HEALTH_SPEC,
    &crate::enrollment::SPEC,
    &crate::intune_roles::DEFINITIONS_SPEC,
    &crate::intune_roles::ASSIGNMENTS_SPEC,
    &crate::administrative_units::SPEC,
    &crate::mobile_apps::SPEC,
    &crate::graph_collections::TERMS_SPEC,
    &crate::entitlement::CATALOGS_SPEC,
    &crate::entitlement::PACKAGES_SPEC,
    &crate::entitlement_assignments::REQUESTS_SPEC,
];

/// Every spec of the table: the kinds' collections, then the others.
pub fn all_specs() -> impl Iterator<Item = &'static Spec> {
    KIND_SPECS.iter().copied().chain(SPECS.iter())
}

/// The spec of the collection whose last path segment is `name`
/// (`policies` is conditional access's).
pub fn spec_by_name(name: &str) -> Option<&'static Spec> {
    all_specs().find(|s| s.path.last() == Some(&name))
}

/// The spec whose path is a prefix of `segs` (longest first).
pub fn find(segs: &[&str]) -> Option<&'static Spec> {
    all_specs().filter(|s| segs.len() >= s.path.len() && s.path.iter().zip(segs).all(|(a, b)| a == b)).max_by_key(|s| s.path.len()).or_else(|| crate::graph_collections::find(segs))
}

pub fn spec_by_coll(coll: &str) -> Option<&'static Spec> {
    all_specs().find(|s| s.coll == coll).or_else(|| crate::graph_collections::by_coll(coll))
}

/// Fixed path words (everything else in a path is an id, for accounting).
pub const KNOWN_SEGMENTS: &[&str] = &[
    "users", "groups", "members", "owners", "$ref", "delta", "delta()", "$count", "memberOf", "transitiveMemberOf", "invitations", "directory", "deletedItems",
    "microsoft.graph.user", "microsoft.graph.group", "restore", "directoryObjects", "organization", "domains", "roleManagement", "roleDefinitions",
    "roleAssignments", "roleEligibilityScheduleRequests", "roleAssignmentScheduleRequests", "roleEligibilitySchedules", "roleAssignmentSchedules",
    "roleEligibilityScheduleInstances", "roleAssignmentScheduleInstances", "deviceManagement", "deviceConfigurations", "deviceCompliancePolicies",
    "configurationPolicies", "windowsAutopilotDeploymentProfiles", "assign", "assignments", "scheduleActionsForRules", "scheduledActionsForRule",
    "settings", "identity", "conditionalAccess", "policies", "$batch", "assignmentFilters", "extensions",
    "namedLocations", "authenticationStrengthPolicies", "updateAllowedCombinations",
    "getOmaSettingPlainTextValue", "microsoft.graph.getOmaSettingPlainTextValue",
    "windowsFeatureUpdateProfiles", "windowsQualityUpdateProfiles", "windowsDriverUpdateProfiles", "roleScopeTags", "deviceCategories",
    "subscribedSkus", "assignLicense",
    "authorizationPolicy", "crossTenantAccessPolicy", "default", "partners",
    "deviceManagementScripts", "deviceHealthScripts",
    "deviceEnrollmentConfigurations", "setPriority",
    "authenticationMethodsPolicy", "authenticationMethodConfigurations", "roleManagementPolicies", "roleManagementPolicyAssignments", "rules", "administrativeUnits",
    "microsoftAuthenticator", "fido2", "temporaryAccessPass", "sms", "voice", "email", "softwareOath", "x509Certificate",
    "configurationSettings", "configurationPolicyTemplates", "settingTemplates",
    "deviceAppManagement", "mobileApps", "termsAndConditions",
    "identityGovernance", "entitlementManagement", "catalogs", "resources", "resourceRequests", "accessPackages", "resourceRoleScopes", "incompatibleAccessPackages", "incompatibleGroups", "customWorkflowExtensions",
    "assignmentPolicies", "assignmentRequests",
];

pub fn is_known_segment(s: &str) -> bool {
    KNOWN_SEGMENTS.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_collection_names_its_own_rules() {
        // Write bodies are checked against the entity its spec names.
        assert_eq!(spec_by_name("policies").and_then(|s| s.entity), Some("conditionalAccessPolicy"));
        assert_eq!(spec_by_name("users").and_then(|s| s.entity), Some("user"));
        assert_eq!(spec_by_name("roleDefinitions").and_then(|s| s.entity), Some("unifiedRoleDefinition"));
        // Only users and groups serve delta.
        let delta: Vec<&str> = all_specs().filter(|s| s.delta).map(|s| s.coll).collect();
        assert_eq!(delta, ["users", "groups"]);
        // Every Intune collection with `/assign` names its assignment type.
        for s in all_specs().filter(|s| s.family == Family::Intune && !["assignmentFilters", "deviceCategories", "termsAndConditions", crate::intune_roles::DEFINITIONS, crate::intune_roles::ASSIGNMENTS].contains(&s.coll)) {
            let ty = s.assignment_type.unwrap_or_else(|| panic!("{} names no assignment type", s.coll));
            assert!(ty.starts_with("#microsoft.graph.") && ty.ends_with("Assignment"), "{ty}");
        }
        // No two collections share a last path segment, so the name finds
        // one; but Intune's RBAC collections, which share the directory's
        // names and are found by their whole path (`find`).
        for s in all_specs().filter(|s| s.entity.is_some() && s.path.len() == 2 && s.path[0] == "deviceManagement") {
            assert_eq!(find(s.path).map(|x| x.coll), Some(s.coll));
        }
        for s in all_specs().filter(|s| s.entity.is_some() && ![crate::intune_roles::DEFINITIONS, crate::intune_roles::ASSIGNMENTS].contains(&s.coll)) {
            let name = s.path.last().copied().unwrap_or_default();
            assert_eq!(spec_by_name(name).map(|x| x.coll), Some(s.coll));
        }
    }
}
