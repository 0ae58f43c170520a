//! The kind registry: every resource kind tenantctl manages, listed once.
//!
//! Each line names a kind's `Kind` variant, its TOML name (which is also its
//! `DesiredState` / `TenantFile` field and the first part of its addresses),
//! its TOML type in `crate::kinds`, and its flags:
//!
//! * `principal`: can be a member of groups and hold roles;
//! * `policy`: an Intune policy, which carries assignments.
//!
//! The order is the order objects of one wave are listed in plans.
//!
//! [`with_kinds!`] hands the list to a macro, so each layer generates its
//! per-kind code from this one list: `address.rs` the `Kind` enum, `ALL`,
//! `as_str` and the predicates; `state.rs` the `DesiredState` fields and
//! their dispatch; `kinds/file.rs` the `TenantFile` shape (and so the JSON
//! Schema); `load.rs` the table names it parses; `validate` each kind's checks;
//! the providers crate its `KindProvider`. Adding a kind adds one line
//! here plus its own module per layer (see README, "How to add a kind").

/// Invoke `$callback! { Variant field Type principal policy; ... }` with
/// every registered kind. Exported so the other layers (providers) generate
/// their per-kind dispatch from the same list: a kind registered here with
/// no provider module does not compile.
#[macro_export]
macro_rules! with_kinds {
    ($callback:ident) => {
        $callback! {
            // Variant           TOML name / field      TOML type            principal policy
            User                 user                   User                 true      false;
            Guest                guest                  Guest                true      false;
            Group                group                  Group                true      false;
            // Before role assignments, which name them (a custom role, an
            // administrative unit scope): their ids are known first.
            RoleDefinition       role_definition        RoleDefinition       false     false;
            AdministrativeUnit   administrative_unit    AdministrativeUnit   false     false;
            RoleAssignment       role_assignment        RoleAssignment       false     false;
            AssignmentFilter     assignment_filter      AssignmentFilter     false     false;
            ScopeTag             scope_tag              ScopeTag             false     false;
            DeviceCategory       device_category        DeviceCategory       false     false;
            DeviceConfiguration  device_configuration   DeviceConfiguration  false     true;
            CompliancePolicy     compliance_policy      CompliancePolicy     false     true;
            UpdateRing           update_ring            UpdateRing           false     true;
            AutopilotProfile     autopilot_profile      AutopilotProfile     false     true;
            FeatureUpdateProfile feature_update_profile FeatureUpdateProfile false     true;
            QualityUpdateProfile quality_update_profile QualityUpdateProfile false     true;
            DriverUpdateProfile  driver_update_profile  DriverUpdateProfile  false     true;
            SettingsCatalog      settings_catalog       SettingsCatalog      false     true;
            // What conditional access names comes before it: deletes run in
            // reverse registry order, and Graph refuses deleting a location
            // or strength a policy still uses.
            NamedLocation        named_location         NamedLocation        false     false;
            AuthenticationStrength authentication_strength AuthenticationStrength false   false;
            ConditionalAccess    conditional_access     ConditionalAccess    false     false;
            AuthorizationPolicy  authorization_policy   AuthorizationPolicy  false     false;
            CrossTenantAccess    cross_tenant_access    CrossTenantAccess    false     false;
            PlatformScript       platform_script        PlatformScript       false     true;
            Remediation          remediation            Remediation          false     true;
            EnrollmentStatusPage enrollment_status_page EnrollmentStatusPage false     true;
            EnrollmentRestriction enrollment_restriction EnrollmentRestriction false    true;
            IntuneRoleDefinition intune_role_definition IntuneRoleDefinition false     false;
            IntuneRoleAssignment intune_role_assignment IntuneRoleAssignment false     false;
            AuthenticationMethodsPolicy authentication_methods_policy AuthenticationMethodsPolicy false false;
            RolePolicy           role_policy            RolePolicy           false     false;
            WingetApp            winget_app             WingetApp            false     true;
            M365Apps             m365_apps              M365Apps             false     true;
            AppAssignment        app_assignment         AppAssignment        false     true;
            GraphObject          graph_object           GraphObject          false     true;
            // Entitlement management: a package names its catalog (deletes
            // run in reverse, so packages go before their catalog).
            AccessCatalog        access_catalog         AccessCatalog        false     false;
            AccessPackage        access_package         AccessPackage        false     false;
            // After the package whose policy it goes through.
            AccessPackageAssignment access_package_assignment AccessPackageAssignment false false;
        }
    };
}

impl crate::address::Kind {
    /// Kinds whose objects Entra gives every tenant (or every role) and
    /// which cannot be deleted: they are only ever updated, and one no
    /// longer declared is left as it is, whatever pruning says.
    pub fn never_deleted(self) -> bool {
        matches!(self, Self::AuthenticationMethodsPolicy | Self::RolePolicy | Self::AuthorizationPolicy)
    }

    /// Kinds that manage a part of an object tenantctl never creates (an
    /// app's assignments): their "delete" removes only what tenantctl set,
    /// so whether the object was adopted does not keep it from pruning.
    pub fn manages_part_only(self) -> bool {
        matches!(self, Self::AppAssignment)
    }
}
