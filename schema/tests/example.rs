//! The example tenant validates, and the committed JSON Schema is current.

use std::path::PathBuf;

use schema::Kind;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_example_tenant_validates() {
    let state = schema::load(&repo().join("desired-state")).unwrap_or_else(|e| match e {
        schema::LoadError::Invalid(d) => panic!("the example tenant is invalid:\n{d}"),
        other => panic!("{other}"),
    });
    assert!(state.warnings.is_empty(), "{}", state.warnings);
    let counts: std::collections::BTreeMap<Kind, usize> = state.counts().into_iter().collect();
    let expected = [
        (Kind::User, 8),
        (Kind::Guest, 1),
        (Kind::Group, 9),
        (Kind::RoleDefinition, 0),
        (Kind::AdministrativeUnit, 0),
        (Kind::RoleAssignment, 3),
        (Kind::AssignmentFilter, 0),
        (Kind::ScopeTag, 0),
        (Kind::DeviceCategory, 0),
        (Kind::DeviceConfiguration, 1),
        (Kind::CompliancePolicy, 1),
        (Kind::UpdateRing, 4),
        (Kind::AutopilotProfile, 1),
        (Kind::FeatureUpdateProfile, 4),
        (Kind::QualityUpdateProfile, 0),
        (Kind::DriverUpdateProfile, 0),
        (Kind::SettingsCatalog, 3),
        (Kind::NamedLocation, 2),
        (Kind::AuthenticationStrength, 0),
        (Kind::ConditionalAccess, 3),
        (Kind::AuthorizationPolicy, 1),
        (Kind::CrossTenantAccess, 1),
        (Kind::PlatformScript, 0),
        (Kind::Remediation, 1),
        (Kind::EnrollmentStatusPage, 1),
        (Kind::EnrollmentRestriction, 0),
        (Kind::IntuneRoleDefinition, 0),
        (Kind::IntuneRoleAssignment, 0),
        (Kind::AuthenticationMethodsPolicy, 1),
        (Kind::RolePolicy, 1),
        (Kind::WingetApp, 0),
        (Kind::M365Apps, 0),
        (Kind::AppAssignment, 0),
        (Kind::GraphObject, 0),
        (Kind::AccessCatalog, 1),
        (Kind::AccessPackage, 1),
        (Kind::AccessPackageAssignment, 1),
    ];
    // Kinds the example does not declare need no line here (a new kind
    // adds one only when the example declares it).
    let declared = |v: Vec<(Kind, usize)>| v.into_iter().filter(|(_, n)| *n > 0).collect::<Vec<_>>();
    assert_eq!(declared(state.counts()), declared(expected.to_vec()));
    // The published Managed Desktop values (graph-reference section 9):
    // (ring, group, quality deferral, feature deferral, feature deadline,
    // quality deadline, grace period).
    for (ring, group, q, f, fd, qd, grace) in [
        ("test", "mwd-test", 0, 0, 5, 0, 0),
        ("first", "mwd-first", 1, 0, 5, 2, 2),
        ("fast", "mwd-fast", 6, 0, 5, 2, 2),
        ("broad", "mwd-broad", 9, 0, 5, 5, 2),
    ] {
        let r = &state.update_ring[ring].value;
        assert_eq!(
            (
                r.quality_updates_deferral_period_in_days,
                r.feature_updates_deferral_period_in_days,
                r.deadline_for_feature_updates_in_days,
                r.deadline_for_quality_updates_in_days,
                r.deadline_grace_period_in_days,
            ),
            (Some(q), Some(f), Some(fd), Some(qd), Some(grace)),
            "update_ring.{ring}"
        );
        assert_eq!(r.assignments.include, vec![group.to_string()]);
        assert!(r.assignments.exclude.is_empty());
        assert_eq!(r.feature_updates_rollback_window_in_days, Some(30));
        assert_eq!(
            r.user_pause_access,
            Some(schema::kinds::update_ring::Enablement::Disabled)
        );
        assert_eq!(r.allow_windows11_upgrade, Some(false));
        assert_eq!(r.drivers_excluded, Some(false));
        assert_eq!(r.postpone_reboot_until_after_deadline, Some(false));
    }
    // Conditional access leaves out the service accounts and break glass.
    let ca = &state.conditional_access["require-mfa"].value;
    assert_eq!(
        ca.users.exclude_groups,
        vec!["service-accounts".to_string()]
    );
    assert_eq!(ca.users.exclude_users, vec!["breakglass-1".to_string()]);
    assert_eq!(counts[&Kind::Guest], 1);
    assert_eq!(counts[&Kind::AutopilotProfile], 1);
    assert_eq!(counts[&Kind::ConditionalAccess], 3);
    // Every policy, the location and the administrators' strength ones
    // included, leaves out the service accounts and break glass.
    for (key, d) in &state.conditional_access {
        assert_eq!(d.value.users.exclude_groups, ["service-accounts"], "{key}");
        assert_eq!(d.value.users.exclude_users, ["breakglass-1"], "{key}");
    }
    let block = &state.conditional_access["block-untrusted-locations"].value;
    assert_eq!(block.locations.as_ref().map(|l| l.exclude_locations.clone()), Some(vec!["offices".to_string(), "operating-countries".to_string()]));
    let admins = &state.conditional_access["admins-phishing-resistant"].value;
    assert_eq!(admins.grant.authentication_strength.as_deref(), Some("Phishing-resistant MFA"));
    let service = state
        .user
        .values()
        .filter(|u| u.value.kind == schema::kinds::user::UserKind::Service)
        .count();
    assert_eq!(service, 5, "the five Managed Desktop service accounts");
    for ring in ["mwd-test", "mwd-first", "mwd-fast", "mwd-broad"] {
        assert!(state.group.contains_key(ring), "{ring}");
    }
    let gov = state.governance();
    assert_eq!((gov.approvals_required, gov.approvers.len()), (2, 2));
    // Every file points editors at the schema.
    for entry in std::fs::read_dir(repo().join("desired-state")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.starts_with("#:schema ../schema/tenant.schema.json"),
                "{} lacks the #:schema directive",
                path.display()
            );
        }
    }
}

#[test]
fn the_committed_json_schema_is_current() {
    let path = repo().join("schema/tenant.schema.json");
    let fresh = schema::json_schema();
    if std::env::var_os("TENANTCTL_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schema/tenant.schema.json is out of date: run `cargo run -- schema > schema/tenant.schema.json` (or `TENANTCTL_BLESS=1 cargo test -p tenantctl-schema --test example`) and commit it"
    );
    let parsed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert!(parsed["properties"]["update_ring"].is_object());
    // What editors use: ranges, one-of values, lengths and descriptions.
    let defs = &parsed["definitions"];
    let ring = &defs["UpdateRing"]["properties"];
    assert_eq!(
        ring["quality_updates_deferral_period_in_days"]["maximum"],
        30.0
    );
    assert_eq!(ring["deadline_grace_period_in_days"]["maximum"], 7.0);
    assert_eq!(
        ring["feature_updates_rollback_window_in_days"]["minimum"],
        2.0
    );
    assert_eq!(
        ring["schedule_restart_warning_in_hours"]["enum"],
        serde_json::json!([2, 4, 8, 12, 24])
    );
    assert_eq!(
        defs["Group"]["properties"]["mail_nickname"]["maxLength"],
        64
    );
    assert_eq!(defs["User"]["properties"]["mail_nickname"]["maxLength"], 64);
    for kind in ["User", "Guest", "Group", "UpdateRing", "ConditionalAccess"] {
        assert!(
            defs[kind]["description"].is_string(),
            "{kind} has no description"
        );
    }
}
