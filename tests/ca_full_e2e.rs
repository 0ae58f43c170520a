//! Conditional access, complete: a policy declaring every condition and
//! control tenantctl models (guests by type and tenant, user actions,
//! platforms, named locations, device filter, risk levels, authentication
//! strength, terms of use, session controls, report-only) is created as
//! declared, re-plans empty, is diffed field by field (an update, and drift
//! made in the portal), exports to the same TOML, and is deleted. The
//! sandbox refuses what Graph refuses for these fields.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const FULL: &str = r#"
[named_location.branch]
display_name = "Branch office"
ip_ranges = ["192.0.2.0/24"]
is_trusted = true

[conditional_access.everything]
display_name = "Everything modelled"
description = "Report-only until the sign-in logs are read"
state = "enabledForReportingButNotEnforced"
client_app_types = ["browser", "mobileAppsAndDesktopClients"]
sign_in_risk_levels = ["high", "medium"]
user_risk_levels = ["high"]
insider_risk_levels = ["elevated"]

[conditional_access.everything.users]
include_users = ["All"]
exclude_users = ["breakglass-1"]
exclude_groups = ["service-accounts"]
exclude_guests_or_external_users = { guest_or_external_user_types = ["b2bCollaborationGuest", "internalGuest"], external_tenants = { membership_kind = "enumerated", members = ["0c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"] } }

[conditional_access.everything.applications]
include_applications = ["All"]
exclude_applications = ["00000003-0000-0ff1-ce00-000000000000"]

[conditional_access.everything.platforms]
include_platforms = ["all"]
exclude_platforms = ["linux"]

[conditional_access.everything.locations]
include_locations = ["All"]
exclude_locations = ["branch", "AllTrusted"]

[conditional_access.everything.devices]
device_filter = { mode = "exclude", rule = 'device.trustType -eq "ServerAD"' }

[conditional_access.everything.grant]
operator = "AND"
built_in_controls = ["compliantDevice"]
authentication_strength = "Passwordless MFA"
terms_of_use = ["8d6a4b2c-1e3f-4a5b-9c7d-2e4f6a8b0c1d"]

[conditional_access.everything.session]
sign_in_frequency = { value = 12, type = "hours" }
persistent_browser = "never"
cloud_app_security = "monitorOnly"
application_enforced_restrictions = true
disable_resilience_defaults = true

[conditional_access.register-security-info]
display_name = "Register security info from the office only"
state = "enabled"
users = { include_users = ["All"], exclude_users = ["breakglass-1"], exclude_groups = ["service-accounts"] }
applications = { include_user_actions = ["urn:user:registersecurityinfo"] }
locations = { include_locations = ["All"], exclude_locations = ["AllTrusted"] }
grant = { built_in_controls = ["block"] }
"#;

fn scratch(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    kind_scratch(&["named_location", "conditional_access"], "conditional access", "ca-full.toml", text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_modelled_condition_and_control_round_trips() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(FULL);
    let mut ledger = Ledger::default();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    apply(&c, &p, &mut ledger).await;
    let pid = ledger.id(&"conditional_access.everything".parse().unwrap()).unwrap().to_string();
    let branch = ledger.id(&"named_location.branch".parse().unwrap()).unwrap().to_string();
    let live = c.v1().get_json(&format!("/identity/conditionalAccess/policies/{pid}")).await.unwrap();
    assert_eq!(live["state"], json!("enabledForReportingButNotEnforced"));
    assert_eq!(live["description"], json!("Report-only until the sign-in logs are read"));
    assert_eq!(live["conditions"]["platforms"], json!({"includePlatforms": ["all"], "excludePlatforms": ["linux"]}));
    assert_eq!(live["conditions"]["locations"]["excludeLocations"], json!([branch, "AllTrusted"]));
    assert_eq!(live["conditions"]["devices"]["deviceFilter"], json!({"mode": "exclude", "rule": "device.trustType -eq \"ServerAD\""}));
    assert_eq!(live["conditions"]["insiderRiskLevels"], json!("elevated"));
    assert_eq!(live["conditions"]["users"]["excludeGuestsOrExternalUsers"]["guestOrExternalUserTypes"], json!("b2bCollaborationGuest,internalGuest"));
    assert_eq!(live["conditions"]["users"]["excludeGuestsOrExternalUsers"]["externalTenants"]["members"], json!(["0c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"]));
    assert_eq!(live["grantControls"]["authenticationStrength"]["id"], json!("00000000-0000-0000-0000-000000000003"));
    assert_eq!(live["grantControls"]["termsOfUse"], json!(["8d6a4b2c-1e3f-4a5b-9c7d-2e4f6a8b0c1d"]));
    assert_eq!(live["sessionControls"]["signInFrequency"]["value"], json!(12));
    assert_eq!(live["sessionControls"]["persistentBrowser"], json!({"isEnabled": true, "mode": "never"}));
    assert_eq!(live["sessionControls"]["disableResilienceDefaults"], json!(true));
    let again = plan(&c, &load_ok(&dst), &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    // Update, field by field: the sign-in frequency alone.
    std::fs::write(dst.join("ca-full.toml"), FULL.replace("value = 12", "value = 8")).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Update);
    let fields: Vec<&str> = p.changes[0].fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["sessionControls.signInFrequency.value"]);
    apply(&c, &p, &mut ledger).await;
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Drift: a platform exclusion removed in the portal is that change.
    let url = format!("{}/_sandbox/objects/conditionalAccessPolicies/{pid}", sb.base_url());
    let mut conditions = live["conditions"].clone();
    conditions["platforms"] = json!({"includePlatforms": ["all"], "excludePlatforms": []});
    let r = reqwest::Client::new().patch(&url).json(&json!({"conditions": conditions})).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let fields: Vec<&str> = p.changes.iter().flat_map(|c| c.fields.iter().map(|f| f.field.as_str())).collect();
    assert_eq!(fields, ["conditions.platforms.excludePlatforms"], "{:#?}", p.changes);
    apply(&c, &p, &mut ledger).await;
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Export gives back what was declared.
    let (_tmp, out) = export_tenant(&sb);
    let exported = schema::load(&out).expect("the export loads");
    let declared = load_ok(&dst);
    for name in ["Everything modelled", "Register security info from the office only"] {
        let mut want = declared.conditional_access.values().find(|d| d.value.display_name == name).unwrap().value.clone();
        let got = exported.conditional_access.values().find(|d| d.value.display_name == name).unwrap_or_else(|| panic!("{name} not exported")).value.clone();
        // Keys differ between the example and the export.
        if let Some(l) = want.locations.as_mut() {
            l.exclude_locations = got.locations.as_ref().unwrap().exclude_locations.clone();
        }
        want.users.exclude_users = got.users.exclude_users.clone();
        want.users.exclude_groups = got.users.exclude_groups.clone();
        assert_eq!(got, want);
    }

    // Delete.
    std::fs::remove_file(dst.join("ca-full.toml")).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let deleted: Vec<String> = p.changes.iter().filter(|c| c.action == Action::Delete).map(|c| c.address.to_string()).collect();
    assert!(deleted.contains(&"conditional_access.everything".to_string()) && deleted.contains(&"named_location.branch".to_string()), "{deleted:?}");
    apply(&c, &p, &mut ledger).await;
    assert!(c.v1().get_json(&format!("/identity/conditionalAccess/policies/{pid}")).await.is_err());
    sb.shutdown().await.unwrap();
}

fn policy(grant: serde_json::Value, session: serde_json::Value) -> serde_json::Value {
    json!({
        "displayName": "P",
        "state": "enabled",
        "conditions": { "clientAppTypes": ["all"], "users": { "includeUsers": ["All"] }, "applications": { "includeApplications": ["All"] } },
        "grantControls": grant,
        "sessionControls": session,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_refuses_what_graph_refuses() {
    let sb = sandbox().await;
    let c = c_v1(&sb);
    let path = "/identity/conditionalAccess/policies";
    let strength = json!({"id": "00000000-0000-0000-0000-000000000004"});
    // Accepted: a built-in strength alone.
    c.post_json(path, policy(json!({"operator": "OR", "builtInControls": [], "authenticationStrength": strength}), json!(null))).await.expect("a strength alone");
    for (why, body) in [
        ("mfa with a strength", policy(json!({"operator": "OR", "builtInControls": ["mfa"], "authenticationStrength": strength}), json!(null))),
        ("block with others", policy(json!({"operator": "OR", "builtInControls": ["block", "mfa"]}), json!(null))),
        ("an unknown strength", policy(json!({"operator": "OR", "builtInControls": [], "authenticationStrength": {"id": "9d0f2c4e-0000-0000-0000-000000000000"}}), json!(null))),
        ("25 hours", policy(json!({"operator": "OR", "builtInControls": ["mfa"]}), json!({"signInFrequency": {"isEnabled": true, "value": 25, "type": "hours", "frequencyInterval": "timeBased"}}))),
        ("an unknown platform", {
            let mut p = policy(json!({"operator": "OR", "builtInControls": ["mfa"]}), json!(null));
            p["conditions"]["platforms"] = json!({"includePlatforms": ["amiga"]});
            p
        }),
        ("an unknown named location", {
            let mut p = policy(json!({"operator": "OR", "builtInControls": ["mfa"]}), json!(null));
            p["conditions"]["locations"] = json!({"includeLocations": ["5b6c7d8e-0000-0000-0000-000000000000"]});
            p
        }),
    ] {
        assert!(c.post_json(path, body).await.is_err(), "the sandbox accepted {why}");
    }
    let loc = "/identity/conditionalAccess/namedLocations";
    for (why, body) in [
        ("no type", json!({"displayName": "X", "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "192.0.2.0/24"}]})),
        ("host bits", json!({"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "X", "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "192.0.2.1/24"}]})),
        ("lower-case country", json!({"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "X", "countriesAndRegions": ["nl"]})),
    ] {
        assert!(c.post_json(loc, body).await.is_err(), "the sandbox accepted a location with {why}");
    }
    sb.shutdown().await.unwrap();
}

fn c_v1(sb: &sandbox::SandboxHandle) -> providers::graph::GraphClient {
    client(sb).v1()
}

/// The service-account lints still see conditional access targeting with
/// the new conditions: a policy for admin roles (which a service account
/// may hold) or guests that does not exclude the service accounts fails
/// validation, naming the policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_by_role_or_guest_type_must_still_exclude_the_service_accounts() {
    let sb = sandbox().await;
    let by_role = "[conditional_access.admins]\ndisplay_name = \"Admins\"\nstate = \"enabled\"\nusers = { include_roles = [\"Global Administrator\"], exclude_users = [\"breakglass-1\"] }\napplications = { include_applications = [\"All\"] }\ngrant = { authentication_strength = \"Phishing-resistant MFA\" }\n";
    let by_guest = "[conditional_access.guests]\ndisplay_name = \"Guests\"\nstate = \"enabled\"\nusers = { include_guests_or_external_users = { guest_or_external_user_types = [\"b2bCollaborationGuest\"] }, exclude_users = [\"breakglass-1\"] }\napplications = { include_applications = [\"All\"] }\ngrant = { built_in_controls = [\"mfa\"] }\n";
    for (key, toml) in [("conditional_access.admins", by_role), ("conditional_access.guests", by_guest)] {
        let (dir, dst) = scratch(toml);
        let o = cli(&sb, dir.path(), &["validate", dst.to_str().unwrap()]);
        let out = format!("{}{}", text(&o.stdout), text(&o.stderr));
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(out.contains("service-accounts-not-excluded") && out.contains(key), "{out}");
    }
    sb.shutdown().await.unwrap();
}
