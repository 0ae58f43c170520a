//! The generator's hand-kept inputs: which types tenantctl uses, and what
//! the Graph docs say where the published metadata is silent (maximum
//! lengths, read-only directory properties, permissions of the requests
//! permissions.json has no rule for), each with the page that says it.

/// Entity types of the collections tenantctl reads and writes, and the
/// bodies of the actions it posts.
pub const ROOTS: &[&str] = &[
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
    "deviceManagementConfigurationSetting",
    "deviceAndAppManagementAssignmentFilter",
    "conditionalAccessPolicy",
    "namedLocation",
    "authenticationStrengthPolicy",
    "windowsFeatureUpdateProfile",
    "windowsFeatureUpdateProfileAssignment",
    "windowsQualityUpdateProfile",
    "windowsQualityUpdateProfileAssignment",
    "windowsDriverUpdateProfile",
    "windowsDriverUpdateProfileAssignment",
    "roleScopeTag",
    "roleScopeTagAutoAssignment",
    "deviceCategory",
    "authorizationPolicy",
    "crossTenantAccessPolicyConfigurationDefault",
    "crossTenantAccessPolicyConfigurationPartner",
    "deviceManagementScript",
    "deviceManagementScriptAssignment",
    "deviceHealthScript",
    "deviceHealthScriptAssignment",
    "deviceEnrollmentConfiguration",
    "enrollmentConfigurationAssignment",
    "deviceAndAppManagementRoleDefinition",
    "deviceAndAppManagementRoleAssignment",
    "authenticationMethodsPolicy",
    "unifiedRoleManagementPolicy",
    "unifiedRoleManagementPolicyAssignment",
    "authenticationMethodConfiguration",
    "authenticationMethodTarget",
    "unifiedRoleManagementPolicyRule",
    "administrativeUnit",
    "mobileApp",
    "mobileAppAssignment",
    "termsAndConditions",
    "notificationMessageTemplate",
    "deviceComplianceScript",
    "accessPackageCatalog",
    "accessPackageResourceRequest",
    "accessPackage",
    "accessPackageResourceRoleScope",
    "accessPackageAssignmentPolicy",
    "accessPackageAssignmentRequest",
    // Written inside the above (resource requests, role scopes): navigation
    // targets are not followed, so they are roots of their own.
    "accessPackageResource",
    "accessPackageResourceRole",
    "accessPackageResourceScope",
    // A policy's custom extension stages (deep-inserted on the policy) and
    // the catalog's custom workflow extensions they call.
    "customExtensionStageSetting",
    "accessPackageAssignmentRequestWorkflowExtension",
    "accessPackageAssignmentWorkflowExtension",
    // A policy's requestor questions (contained navigation): written by the
    // portal, refused by tenantctl's update, checked by the sandbox.
    "accessPackageTextInputQuestion",
    "accessPackageMultipleChoiceQuestion",
];

const USER_PAGE: &str = "docs: learn.microsoft.com/graph/api/resources/user (property table)";
const GROUP_PAGE: &str = "docs: learn.microsoft.com/graph/api/resources/group (property table)";

/// Maximum lengths the docs give where the CSDL has no `MaxLength` facet
/// (the clean v1.0 CSDL has none at all): (type, property, max, source).
pub const DOC_MAX_LENGTHS: &[(&str, &str, u32, &str)] = &[
    ("user", "displayName", 256, USER_PAGE),
    ("user", "mailNickname", 64, USER_PAGE),
    ("user", "givenName", 64, USER_PAGE),
    ("user", "surname", 64, USER_PAGE),
    ("user", "jobTitle", 128, USER_PAGE),
    ("user", "department", 64, USER_PAGE),
    ("user", "companyName", 64, USER_PAGE),
    ("user", "employeeId", 16, USER_PAGE),
    ("user", "officeLocation", 128, USER_PAGE),
    ("user", "city", 128, USER_PAGE),
    ("user", "state", 128, USER_PAGE),
    ("user", "country", 128, USER_PAGE),
    ("user", "postalCode", 40, USER_PAGE),
    ("user", "streetAddress", 1024, USER_PAGE),
    ("user", "usageLocation", 2, USER_PAGE),
    ("user", "userPrincipalName", 113, "docs: learn.microsoft.com/entra/identity/hybrid/connect/plan-connect-userprincipalname (64 before the @, 48 after: 113 in all)"),
    ("group", "displayName", 256, GROUP_PAGE),
    ("group", "mailNickname", 64, GROUP_PAGE),
    ("group", "description", 1024, "docs: learn.microsoft.com/entra/identity/users/directory-service-limits-restrictions (group description)"),
    ("group", "membershipRule", 3072, "docs: learn.microsoft.com/entra/identity/users/groups-dynamic-membership (a rule body can't exceed 3,072 characters)"),
    ("invitation", "invitedUserDisplayName", 256, USER_PAGE),
    ("invitation", "invitedUserEmailAddress", 254, "RFC 5321 section 4.5.3.1.3 (an address is at most 254 characters); the invitation docs give none"),
    ("windowsAutopilotDeploymentProfile", "displayName", 200, "docs: learn.microsoft.com/graph/api/resources/intune-enrollment-windowsautopilotdeploymentprofile (Max allowed length is 200 chars)"),
    ("windowsAutopilotDeploymentProfile", "description", 1500, "docs: learn.microsoft.com/graph/api/resources/intune-enrollment-windowsautopilotdeploymentprofile (Max allowed length is 1500 chars)"),
];

/// Beta-only enums that are flags (`IsFlags` in the beta CSDL, which the
/// beta type mappings do not carry): a value is a comma-separated list of
/// members, e.g. `technologies = "mdm,microsoftSense"` (docs:
/// learn.microsoft.com/graph/api/resources/intune-deviceconfigv2-devicemanagementconfigurationpolicy,
/// whose example sends `"technologies": "mdm"` and whose enums are flags).
pub const BETA_FLAGS: &[&str] = &[
    "microsoft.graph.deviceManagementConfigurationPlatforms",
    "microsoft.graph.deviceManagementConfigurationTechnologies",
];

/// Properties the Graph docs call read-only where the CSDL has no Computed
/// annotation (directory objects carry no annotations in the clean CSDL).
pub const READ_ONLY: &[(&str, &str)] = &[
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
    ("deviceAndAppManagementAssignmentFilter", "createdDateTime"),
    (
        "deviceAndAppManagementAssignmentFilter",
        "lastModifiedDateTime",
    ),
    ("deviceAndAppManagementAssignmentFilter", "payloads"),
    // mobileApp (learn.microsoft.com/graph/api/resources/intune-apps-mobileapp).
    ("mobileApp", "createdDateTime"),
    ("mobileApp", "lastModifiedDateTime"),
    ("mobileApp", "isAssigned"),
    ("mobileApp", "dependentAppCount"),
    ("mobileApp", "supersededAppCount"),
    ("mobileApp", "supersedingAppCount"),
    ("mobileApp", "uploadState"),
    ("mobileApp", "publishingState"),
    ("termsAndConditions", "createdDateTime"),
    ("termsAndConditions", "lastModifiedDateTime"),
    ("termsAndConditions", "modifiedDateTime"),
    ("notificationMessageTemplate", "lastModifiedDateTime"),
    ("deviceComplianceScript", "createdDateTime"),
    ("deviceComplianceScript", "lastModifiedDateTime"),
];

/// Where `[graph_object]` collections are found (`collections.rs`): every
/// collection-valued navigation property of these singletons (path prefix,
/// singleton type) whose entity Graph's permission table lets an
/// application create.
pub const OBJECT_OWNERS: &[(&str, &str)] = &[
    ("/deviceManagement", "deviceManagement"),
    ("/deviceAppManagement", "deviceAppManagement"),
    ("/policies", "policyRoot"),
    ("/identity", "identityContainer"),
    ("/identity/conditionalAccess", "conditionalAccessRoot"),
];

/// Top-level entity sets `[graph_object]` may name (path, entity type).
pub const OBJECT_ENTITY_SETS: &[(&str, &str)] = &[("/groupLifecyclePolicies", "groupLifecyclePolicy")];

/// The permissions tenantctl's documented list is chosen from, in the order
/// the redundancy pass drops them (broad ones never enter: the list should
/// be what a security reviewer expects for a reconciler).
pub const EXCLUDED_FROM_DOCUMENTED: &[&str] =
    &["Directory.ReadWrite.All", "Directory.AccessAsUser.All"];

/// A permission rule from a docs page, for a request permissions.json has
/// no (or no per-resource) rule for.
pub struct DocRule {
    pub method: &'static str,
    pub path: &'static str,
    /// The resource type the rule is for when the path does not say it.
    pub resource: Option<&'static str>,
    /// Application permissions, least privileged first.
    pub any_of: &'static [&'static str],
    pub source: &'static str,
}

const DELETED_LIST: &str = "docs: learn.microsoft.com/graph/api/directory-deleteditems-list (Application column per resource)";
const DELETED_GET: &str = "docs: learn.microsoft.com/graph/api/directory-deleteditems-get (Application column per resource)";
const DELETED_RESTORE: &str = "docs: learn.microsoft.com/graph/api/directory-deleteditems-restore (Application column per resource; User.DeleteRestore.All per permissions.json)";
const DELETED_DELETE: &str = "docs: learn.microsoft.com/graph/api/directory-deleteditems-delete (for users: User.ReadWrite.All, for groups: Group.ReadWrite.All; User.DeleteRestore.All per its permission description)";

/// Deleted items (`/directory/deletedItems`): permissions.json lists only
/// the restore of users (and agents), so the rest is from the API pages.
/// Per resource: the read and write permissions of users or of groups.
pub const DOC_RULES: &[DocRule] = &[
    DocRule {
        method: "GET",
        path: "/directory/deletedItems/microsoft.graph.user",
        resource: None,
        any_of: &[
            "User.Read.All",
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        source: DELETED_LIST,
    },
    DocRule {
        method: "GET",
        path: "/directory/deletedItems/microsoft.graph.group",
        resource: None,
        any_of: &[
            "Group.Read.All",
            "Group.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        source: DELETED_LIST,
    },
    DocRule {
        method: "GET",
        path: "/directory/deletedItems/{id}",
        resource: Some("user"),
        any_of: &[
            "User.Read.All",
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        source: DELETED_GET,
    },
    DocRule {
        method: "GET",
        path: "/directory/deletedItems/{id}",
        resource: Some("group"),
        any_of: &[
            "Group.Read.All",
            "Group.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ],
        source: DELETED_GET,
    },
    DocRule {
        method: "POST",
        path: "/directory/deletedItems/{id}/restore",
        resource: Some("user"),
        any_of: &["User.DeleteRestore.All", "User.ReadWrite.All"],
        source: DELETED_RESTORE,
    },
    DocRule {
        method: "POST",
        path: "/directory/deletedItems/{id}/restore",
        resource: Some("group"),
        any_of: &["Group.ReadWrite.All"],
        source: DELETED_RESTORE,
    },
    DocRule {
        method: "DELETE",
        path: "/directory/deletedItems/{id}",
        resource: Some("user"),
        any_of: &["User.DeleteRestore.All", "User.ReadWrite.All"],
        source: DELETED_DELETE,
    },
    DocRule {
        method: "DELETE",
        path: "/directory/deletedItems/{id}",
        resource: Some("group"),
        any_of: &["Group.ReadWrite.All"],
        source: DELETED_DELETE,
    },
    // Open extensions on the organization (the governance marker):
    // permissions.json has no /organization/{id}/extensions paths.
    DocRule {
        method: "GET",
        path: "/organization/{id}/extensions/{id}",
        resource: None,
        any_of: &["Organization.Read.All", "Organization.ReadWrite.All"],
        source: EXT_GET,
    },
    DocRule {
        method: "GET",
        path: "/organization/{id}/extensions",
        resource: None,
        any_of: &["Organization.Read.All", "Organization.ReadWrite.All"],
        source: EXT_GET,
    },
    DocRule {
        method: "POST",
        path: "/organization/{id}/extensions",
        resource: None,
        any_of: &["Organization.ReadWrite.All"],
        source: EXT_POST,
    },
    DocRule {
        method: "PATCH",
        path: "/organization/{id}/extensions/{id}",
        resource: None,
        any_of: &["Organization.ReadWrite.All"],
        source: EXT_PATCH,
    },
    DocRule {
        method: "DELETE",
        path: "/organization/{id}/extensions/{id}",
        resource: None,
        any_of: &["Organization.ReadWrite.All"],
        source: EXT_DELETE,
    },
    // permissions.json has no PATCH of a whole PIM policy (only the
    // per-rule PATCH, delegated only); the v1.0 policy-update page gives
    // the application permissions. tenantctl updates rules this way.
    DocRule {
        method: "PATCH",
        path: "/policies/roleManagementPolicies/{id}",
        resource: None,
        any_of: &["RoleManagementPolicy.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory"],
        source: "docs: learn.microsoft.com/graph/api/unifiedrolemanagementpolicy-update (v1.0, For PIM for Microsoft Entra roles: Application RoleManagementPolicy.ReadWrite.Directory, higher RoleManagement.ReadWrite.Directory); the rule update (unifiedrolemanagementpolicyrule-update) says Application: Not supported",
    },
    // permissions.json lists resource requests only under their beta
    // name (accessPackageResourceRequests); the v1.0 page gives the
    // application permission.
    DocRule {
        method: "POST",
        path: "/identityGovernance/entitlementManagement/resourceRequests",
        resource: None,
        any_of: &["EntitlementManagement.ReadWrite.All"],
        source: "docs: learn.microsoft.com/graph/api/entitlementmanagement-post-resourcerequests (Permissions: Application EntitlementManagement.ReadWrite.All)",
    },
];

const EXT_GET: &str = "docs: learn.microsoft.com/graph/api/opentypeextension-get (Application column, organization)";
const EXT_POST: &str = "docs: learn.microsoft.com/graph/api/opentypeextension-post-opentypeextension (Application column, organization)";
const EXT_PATCH: &str = "docs: learn.microsoft.com/graph/api/opentypeextension-update (Application column, organization)";
const EXT_DELETE: &str = "docs: learn.microsoft.com/graph/api/opentypeextension-delete (Application column, organization)";

/// Requests whose least-privileged Application permission the Graph docs
/// pages name differently from permissions.json (issue 15): path prefix,
/// the docs' permission for GET, for writes, and the page. The rule keeps
/// every permission permissions.json lists (any of them still grants the
/// request) and gains the docs' one, which becomes its least privileged
/// and so what the README and `tenantctl permissions` name.
pub struct DocsLeast {
    pub prefix: &'static str,
    pub read: &'static str,
    pub write: &'static str,
    pub source: &'static str,
}

pub const DOCS_LEAST: &[DocsLeast] = &[
    // permissions.json has no rule for this path (its parent's says
    // DeviceManagementApps.*); the beta docs page lists
    // DeviceManagementScripts.ReadWrite.All (Application).
    DocsLeast {
        prefix: "/deviceManagement/deviceManagementScripts",
        read: "DeviceManagementScripts.Read.All",
        write: "DeviceManagementScripts.ReadWrite.All",
        source: "docs: learn.microsoft.com/graph/api/intune-shared-devicemanagementscript-create?view=graph-rest-beta (permissions.json: parent /deviceManagement, DeviceManagementApps.*)",
    },
    // permissions.json marks DeviceManagementConfiguration.Read.All least
    // even for writes; the docs list DeviceManagementScripts.* only.
    DocsLeast {
        prefix: "/deviceManagement/deviceHealthScripts",
        read: "DeviceManagementScripts.Read.All",
        write: "DeviceManagementScripts.ReadWrite.All",
        source: "docs: learn.microsoft.com/graph/api/intune-devices-devicehealthscript-create?view=graph-rest-beta (permissions.json: least DeviceManagementConfiguration.Read.All)",
    },
    // Intune RBAC: permissions.json also lists DeviceManagementConfiguration.*
    // (least, for scope tags); the docs list DeviceManagementRBAC.* only.
    DocsLeast {
        prefix: "/deviceManagement/roleScopeTags",
        read: "DeviceManagementRBAC.Read.All",
        write: "DeviceManagementRBAC.ReadWrite.All",
        source: "docs: learn.microsoft.com/graph/api/intune-rbac-rolescopetag-create?view=graph-rest-beta (permissions.json: least DeviceManagementConfiguration.*)",
    },
    DocsLeast {
        prefix: "/deviceManagement/roleDefinitions",
        read: "DeviceManagementRBAC.Read.All",
        write: "DeviceManagementRBAC.ReadWrite.All",
        source: "docs: learn.microsoft.com/graph/api/intune-rbac-roledefinition-create?view=graph-rest-beta",
    },
    DocsLeast {
        prefix: "/deviceManagement/roleAssignments",
        read: "DeviceManagementRBAC.Read.All",
        write: "DeviceManagementRBAC.ReadWrite.All",
        source: "docs: learn.microsoft.com/graph/api/intune-rbac-deviceandappmanagementroleassignment-create?view=graph-rest-beta",
    },
];
