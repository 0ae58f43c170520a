//! The Windows update profile kinds (`feature_update_profile`,
//! `quality_update_profile`, `driver_update_profile`), each in its own
//! beta collection and assigned with `/assign`: created with their
//! assignments, converged tenants plan empty, a setting change is an
//! update of that field, an assignment change is an assignment, a change
//! made in Intune is drift, a driver profile's approval type is replaced,
//! export writes them and re-imports empty, and owned profiles no longer
//! declared are deleted. A feature update profile rolls out ring by ring.
//! Bad values are located errors, and the sandbox refuses what Graph does.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::{json, Value};

const PROFILES: &str = r#"
[feature_update_profile.win11]
display_name = "Windows 11 24H2"
feature_update_version = "Windows 11, version 24H2"
rollout_settings = { offer_start = 2026-12-01T08:00:00Z, offer_end = 2026-12-15T08:00:00Z, offer_interval_in_days = 7 }
assignments = { include = ["mwd-test"], exclude = ["mwd-broad"] }

[quality_update_profile.expedite]
display_name = "Expedite November"
expedited_update_settings = { quality_update_release = 2026-11-10T00:00:00Z, days_until_forced_reboot = 1 }
assignments = { include = ["mwd-test"] }

[driver_update_profile.drivers]
display_name = "Drivers, automatic"
approval_type = "automatic"
deployment_deferral_in_days = 7
assignments = { include = ["mwd-test"] }
"#;

const MINE: [&str; 3] = ["feature_update_profile.win11", "quality_update_profile.expedite", "driver_update_profile.drivers"];

/// The group ids a profile's live assignments include, and their type.
async fn assigned(c: &providers::graph::GraphClient, collection: &str, id: &str) -> Vec<(String, String)> {
    let list = c.beta().get_json(&format!("/deviceManagement/{collection}/{id}/assignments")).await.unwrap();
    let mut out: Vec<(String, String)> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["@odata.type"].as_str().unwrap().to_string(), a["target"]["groupId"].as_str().unwrap_or_default().to_string()))
        .collect();
    out.sort();
    out
}

fn scratch(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    kind_scratch(&["feature_update_profile", "quality_update_profile", "driver_update_profile"], "the update profile kinds", "profiles.toml", text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_profiles_are_planned_applied_compared_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(PROFILES);
    let mut ledger = Ledger::default();

    // Create: each profile after the groups it is assigned to.
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    for a in MINE {
        let ch = changes_of(&p, a);
        assert_eq!(ch.len(), 1, "{a}: {:#?}", p.changes);
        assert_eq!(ch[0].action, Action::Create);
        assert!(ch[0].waits_on.iter().any(|w| w.to_string() == "group.mwd-test"), "{a} does not wait for its group: {:#?}", ch[0]);
    }
    // The example's four ring profiles too.
    assert_eq!(p.changes.iter().filter(|c| c.address.kind == schema::Kind::FeatureUpdateProfile).count(), 5);
    apply(&c, &p, &mut ledger).await;
    let test_group = id_of(&ledger, "group.mwd-test");
    let broad_group = id_of(&ledger, "group.mwd-broad");
    let fid = id_of(&ledger, "feature_update_profile.win11");
    let qid = id_of(&ledger, "quality_update_profile.expedite");
    let did = id_of(&ledger, "driver_update_profile.drivers");
    let live = c.beta().get_json(&format!("/deviceManagement/windowsFeatureUpdateProfiles/{fid}")).await.unwrap();
    assert_eq!(live["featureUpdateVersion"], json!("Windows 11, version 24H2"));
    assert_eq!(live["rolloutSettings"]["offerStartDateTimeInUTC"], json!("2026-12-01T08:00:00Z"));
    assert_eq!(live["rolloutSettings"]["offerIntervalInDays"], json!(7));
    assert_eq!(live["roleScopeTagIds"], json!(["0"]), "Intune's default scope tag");
    let mut both = vec![
        ("#microsoft.graph.windowsFeatureUpdateProfileAssignment".to_string(), broad_group.clone()),
        ("#microsoft.graph.windowsFeatureUpdateProfileAssignment".to_string(), test_group.clone()),
    ];
    both.sort();
    assert_eq!(assigned(&c, "windowsFeatureUpdateProfiles", &fid).await, both);
    let live = c.beta().get_json(&format!("/deviceManagement/windowsQualityUpdateProfiles/{qid}")).await.unwrap();
    assert_eq!(live["expeditedUpdateSettings"], json!({"qualityUpdateRelease": "2026-11-10T00:00:00Z", "daysUntilForcedReboot": 1}));
    // An assignment has only what its type has (an id and its target).
    let list = c.beta().get_json(&format!("/deviceManagement/windowsQualityUpdateProfiles/{qid}/assignments")).await.unwrap();
    let keys: Vec<&String> = list["value"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["@odata.type", "id", "target"], "{list}");
    assert_eq!(assigned(&c, "windowsQualityUpdateProfiles", &qid).await, vec![("#microsoft.graph.windowsQualityUpdateProfileAssignment".to_string(), test_group.clone())]);
    let live = c.beta().get_json(&format!("/deviceManagement/windowsDriverUpdateProfiles/{did}")).await.unwrap();
    assert_eq!((live["approvalType"].clone(), live["deploymentDeferralInDays"].clone()), (json!("automatic"), json!(7)));
    assert_eq!(assigned(&c, "windowsDriverUpdateProfiles", &did).await, vec![("#microsoft.graph.windowsDriverUpdateProfileAssignment".to_string(), test_group.clone())]);
    let ring = id_of(&ledger, "feature_update_profile.feature-broad");
    assert_eq!(assigned(&c, "windowsFeatureUpdateProfiles", &ring).await, vec![("#microsoft.graph.windowsFeatureUpdateProfileAssignment".to_string(), broad_group.clone())]);

    // Converged: empty.
    let again = plan(&c, &load_ok(&dst), &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    // Update: a new version and a new forced-reboot delay are updates of those fields alone.
    let updated = PROFILES.replace("version 24H2\"\nrollout", "version 25H2\"\nrollout").replace("days_until_forced_reboot = 1", "days_until_forced_reboot = 2");
    std::fs::write(dst.join("profiles.toml"), &updated).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 2, "{:#?}", p.changes);
    let f = changes_of(&p, "feature_update_profile.win11");
    assert_eq!((f[0].action, fields(f[0])), (Action::Update, vec!["featureUpdateVersion"]));
    let q = changes_of(&p, "quality_update_profile.expedite");
    assert_eq!((q[0].action, fields(q[0])), (Action::Update, vec!["expeditedUpdateSettings.daysUntilForcedReboot"]));
    apply(&c, &p, &mut ledger).await;
    let live = c.beta().get_json(&format!("/deviceManagement/windowsFeatureUpdateProfiles/{fid}")).await.unwrap();
    assert_eq!(live["featureUpdateVersion"], json!("Windows 11, version 25H2"));
    let live = c.beta().get_json(&format!("/deviceManagement/windowsQualityUpdateProfiles/{qid}")).await.unwrap();
    assert_eq!(live["expeditedUpdateSettings"]["daysUntilForcedReboot"], json!(2));
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Assignment change: the driver profile moves from Test to First.
    let moved = updated.replace("deployment_deferral_in_days = 7\nassignments = { include = [\"mwd-test\"] }", "deployment_deferral_in_days = 7\nassignments = { include = [\"mwd-first\"] }");
    assert_ne!(moved, updated);
    std::fs::write(dst.join("profiles.toml"), &moved).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    let d = changes_of(&p, "driver_update_profile.drivers");
    assert_eq!(d[0].action, Action::Assign, "{:#?}", d[0]);
    apply(&c, &p, &mut ledger).await;
    let first_group = id_of(&ledger, "group.mwd-first");
    assert_eq!(assigned(&c, "windowsDriverUpdateProfiles", &did).await, vec![("#microsoft.graph.windowsDriverUpdateProfileAssignment".to_string(), first_group)]);
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Drift: a deferral changed in Intune is reported as that change.
    patch_out_of_band(&sb, "windowsDriverUpdateProfiles", &did, serde_json::json!({"deploymentDeferralInDays": 21})).await;
    let state = load_ok(&dst);
    let desired = providers::kinds::desired_model(&state);
    let observed = providers::observe::observe(&c, &desired, &ledger).await.unwrap();
    let p = engine::plan(&desired, &observed, &ledger, &opts()).unwrap();
    let report = engine::drift::drift(&desired, &observed, &ledger, &p, opts().now);
    assert!(!report.in_sync);
    let item = report.items.iter().find(|i| i.address == "driver_update_profile.drivers").expect("the driver profile drifted");
    assert_eq!(item.drift, engine::drift::DriftKind::Changed);
    apply(&c, &p, &mut ledger).await;
    let live = c.beta().get_json(&format!("/deviceManagement/windowsDriverUpdateProfiles/{did}")).await.unwrap();
    assert_eq!(live["deploymentDeferralInDays"], json!(7));

    // Approval type: Intune cannot change it, so the profile is replaced.
    let manual = moved.replace("approval_type = \"automatic\"\ndeployment_deferral_in_days = 7\n", "approval_type = \"manual\"\n");
    std::fs::write(dst.join("profiles.toml"), &manual).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let d = changes_of(&p, "driver_update_profile.drivers");
    assert_eq!(d.len(), 1, "{:#?}", p.changes);
    assert_eq!(d[0].action, Action::Replace, "{:#?}", d[0]);
    apply(&c, &p, &mut ledger).await;
    let new_did = id_of(&ledger, "driver_update_profile.drivers");
    assert_ne!(new_did, did);
    let live = c.beta().get_json(&format!("/deviceManagement/windowsDriverUpdateProfiles/{new_did}")).await.unwrap();
    assert_eq!(live["approvalType"], json!("manual"));
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Export: each kind in its file, the profiles by key, re-imported empty.
    let (tmp, out) = export_tenant(&sb);
    let feature = std::fs::read_to_string(out.join("feature-update-profiles.toml")).unwrap();
    assert!(feature.contains("[feature_update_profile.windows-11-24h2]"), "{feature}");
    assert!(feature.contains("feature_update_version = \"Windows 11, version 25H2\""), "{feature}");
    assert!(feature.contains("offer_interval_in_days = 7"), "{feature}");
    let quality = std::fs::read_to_string(out.join("quality-update-profiles.toml")).unwrap();
    assert!(quality.contains("days_until_forced_reboot = 2"), "{quality}");
    let drivers = std::fs::read_to_string(out.join("driver-update-profiles.toml")).unwrap();
    assert!(drivers.contains("approval_type = \"manual\"") && !drivers.contains("deployment_deferral_in_days"), "{drivers}");
    assert_export_replans_empty(&c, &tmp, &out).await;

    // Delete: no longer declared, the owned profiles are removed.
    std::fs::remove_file(dst.join("profiles.toml")).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    for a in MINE {
        let ch = changes_of(&p, a);
        assert_eq!(ch.len(), 1, "{a}: {:#?}", p.changes);
        assert_eq!(ch[0].action, Action::Delete);
    }
    apply(&c, &p, &mut ledger).await;
    for (collection, id) in [("windowsFeatureUpdateProfiles", &fid), ("windowsQualityUpdateProfiles", &qid), ("windowsDriverUpdateProfiles", &new_did)] {
        let gone = c.beta().get_json(&format!("/deviceManagement/{collection}/{id}")).await;
        assert!(gone.is_err_and(|e| e.is_not_found()), "{collection}/{id} is still there");
    }
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());
    sb.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feature_update_profile_rolls_out_ring_by_ring() {
    let sb = sandbox().await;
    let c = client(&sb);
    let rollout = r#"
[feature_update_profile.windows]
display_name = "Windows"
feature_update_version = "Windows 11, version 24H2"
rollout = { rings = ["mwd-test", "mwd-first", "mwd-fast", "mwd-broad"], soak = "48h" }
"#;
    let (_dir, dst) = scratch(rollout);
    let mut ledger = Ledger::default();
    let desired = providers::kinds::desired_model(&load_ok(&dst));
    let observed = providers::observe::observe(&c, &desired, &ledger).await.unwrap();
    let p = engine::plan::plan_with_rollout(&desired, &observed, &ledger, &opts(), engine::governance::RolloutMode::Force).unwrap();
    let copies: Vec<String> = p.changes.iter().filter(|c| c.address.key.starts_with("windows@")).map(|c| c.address.to_string()).collect();
    assert_eq!(copies.len(), 4, "{copies:?}");
    apply(&c, &p, &mut ledger).await;
    let broad = id_of(&ledger, "feature_update_profile.windows@mwd-broad");
    let live = c.beta().get_json(&format!("/deviceManagement/windowsFeatureUpdateProfiles/{broad}")).await.unwrap();
    assert_eq!(live["displayName"], json!("Windows [mwd-broad]"));
    assert_eq!(assigned(&c, "windowsFeatureUpdateProfiles", &broad).await, vec![("#microsoft.graph.windowsFeatureUpdateProfileAssignment".to_string(), id_of(&ledger, "group.mwd-broad"))]);

    // A new version reaches the first ring only; the others wait for its soak.
    std::fs::write(dst.join("profiles.toml"), rollout.replace("24H2", "25H2")).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let rings: Vec<String> = p.changes.iter().filter(|c| c.address.key.starts_with("windows@")).map(|c| c.address.key.clone()).collect();
    assert_eq!(rings, ["windows@mwd-test"], "{:#?}", p.changes);
    assert_eq!(p.rollout.len(), 3, "{:#?}", p.rollout);
    sb.shutdown().await.unwrap();
}

#[test]
fn bad_update_profiles_are_located_errors() {
    let bad = r#"
[feature_update_profile.a]
display_name = "A"
feature_update_version = "Windows 12"
rollout_settings = { offer_start = 2026-12-15T08:00:00Z, offer_end = 2026-12-01T08:00:00Z, offer_interval_in_days = 30 }

[quality_update_profile.q]
display_name = "Q"
expedited_update_settings = { quality_update_release = 2026-11-10T00:00:00Z, days_until_forced_reboot = 5 }
assignments = { include = ["no-such-group"] }

[driver_update_profile.d]
display_name = "D"
approval_type = "manual"
deployment_deferral_in_days = 3

[driver_update_profile.d2]
display_name = "d"
approval_type = "automatic"
"#;
    let (_dir, dst) = scratch(bad);
    let d = load_errors(&dst);
    let at = |code: &str, line: usize| assert_error_at(&d, "profiles.toml", code, line);
    at("invalid-feature-update-version", 4);
    at("out-of-range", 5);
    at("invalid-rollout-settings", 5);
    at("out-of-range", 9);
    at("unknown-reference", 10);
    at("deferral-needs-automatic", 15);
    at("duplicate-natural-key", 18);

    // An unknown approval type is refused by the type, located.
    let (_dir, dst) = scratch("[driver_update_profile.d]\ndisplay_name = \"D\"\napproval_type = \"sometimes\"\n");
    match schema::load(&dst) {
        Err(schema::LoadError::Invalid(d)) => {
            assert!(d.errors().any(|e| e.location.as_ref().is_some_and(|l| l.file.ends_with("profiles.toml") && l.line == 3)), "{d}")
        }
        other => panic!("expected errors, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_refuses_what_graph_refuses() {
    let sb = sandbox().await;
    let c = client(&sb);
    let post = |path: &'static str, body: Value| {
        let c = c.clone();
        async move { c.beta().execute(providers::graph::GraphRequest::new(providers::graph::Method::POST, path).json(body)).await }
    };
    let refused = |r: Result<providers::graph::GraphResponse, providers::graph::GraphError>, why: &str| match r {
        Err(e) => assert!(e.to_string().contains(why), "{e}"),
        Ok(_) => panic!("accepted; expected a refusal naming {why}"),
    };
    const F: &str = "/deviceManagement/windowsFeatureUpdateProfiles";
    const Q: &str = "/deviceManagement/windowsQualityUpdateProfiles";
    const D: &str = "/deviceManagement/windowsDriverUpdateProfiles";
    refused(post(F, json!({"displayName": "F"})).await, "featureUpdateVersion");
    refused(post(F, json!({"displayName": "F", "featureUpdateVersion": "Windows 12"})).await, "Windows 12");
    refused(post(F, json!({"displayName": "F", "featureUpdateVersion": "Windows 11, version 24H2", "offerIntervalInDays": 3})).await, "offerIntervalInDays");
    refused(post(F, json!({"@odata.type": "#microsoft.graph.windowsQualityUpdateProfile", "displayName": "F", "featureUpdateVersion": "Windows 11, version 24H2"})).await, "windowsQualityUpdateProfile");
    refused(post(Q, json!({"displayName": "Q"})).await, "expeditedUpdateSettings");
    refused(post(Q, json!({"displayName": "Q", "expeditedUpdateSettings": {"qualityUpdateRelease": "2026-11-10T00:00:00Z", "daysUntilForcedReboot": 9}})).await, "daysUntilForcedReboot");
    refused(post(D, json!({"displayName": "D", "approvalType": "sometimes"})).await, "sometimes");
    refused(post(D, json!({"displayName": "D"})).await, "approvalType");
    let created = post(D, json!({"displayName": "D", "approvalType": "manual"})).await.expect("a manual driver profile is accepted");
    let id = created.body.as_ref().and_then(|b| b["id"].as_str()).unwrap().to_string();
    let patch = c
        .beta()
        .execute(providers::graph::GraphRequest::new(providers::graph::Method::PATCH, format!("{D}/{id}")).json(json!({"@odata.type": "#microsoft.graph.windowsDriverUpdateProfile", "approvalType": "automatic"})))
        .await;
    refused(patch, "approval type");
    // Assignments of another kind are refused by the action's parameter type.
    let assign = c
        .beta()
        .execute(providers::graph::GraphRequest::new(providers::graph::Method::POST, format!("{D}/{id}/assign")).json(json!({"assignments": [{"@odata.type": "#microsoft.graph.deviceConfigurationAssignment", "target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]})))
        .await;
    assert!(assign.is_err(), "an assignment of another type is accepted");
    sb.shutdown().await.unwrap();
}

#[test]
fn governance_applies_to_update_profiles() {
    // A profile assigned to the service accounts' group is the
    // service-account lint's error, as for every Intune policy.
    let (_dir, dst) = scratch("[driver_update_profile.svc]\ndisplay_name = \"Drivers for service accounts\"\napproval_type = \"manual\"\nassignments = { include = [\"service-accounts\"] }\n");
    let desired = providers::kinds::desired_model(&load_ok(&dst));
    let findings = engine::governance::lint_desired(&desired, opts().now);
    assert!(
        findings.iter().any(|f| f.lint == "service-account-targeted" && f.address == "driver_update_profile.svc"),
        "{findings:#?}"
    );
}

/// A loopback proxy in front of the sandbox that answers 403 (a permission
/// missing) for one collection and passes everything else on.
async fn forbidding_proxy(upstream: String, forbidden: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::{Request, State};
    use axum::response::{IntoResponse, Response};
    struct Proxy {
        upstream: String,
        forbidden: &'static str,
        http: reqwest::Client,
    }
    async fn handle(State(p): State<std::sync::Arc<Proxy>>, req: Request) -> Response {
        let path = req.uri().path_and_query().map(|x| x.as_str().to_string()).unwrap_or_default();
        if req.uri().path().contains(p.forbidden) {
            let body = json!({"error": {"code": "Forbidden", "message": "Application is not authorized to perform this operation."}});
            return (axum::http::StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        }
        let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
        let mut out = p.http.request(method, format!("{}{path}", p.upstream));
        for (name, value) in req.headers() {
            if name != "host" && name != "content-length" {
                out = out.header(name.as_str(), value.as_bytes());
            }
        }
        let body = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap_or_default();
        let Ok(resp) = out.body(body.clone()).send().await else { return axum::http::StatusCode::BAD_GATEWAY.into_response() };
        let mut builder = Response::builder().status(axum::http::StatusCode::from_u16(resp.status().as_u16()).unwrap());
        for (name, value) in resp.headers() {
            if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
        }
        let mut bytes = resp.bytes().await.unwrap_or_default();
        // Inside a `$batch` (the listings go in one), Graph answers the
        // forbidden item 403 and the rest as usual: do the same.
        if path.ends_with("/$batch") {
            let sent: Value = serde_json::from_slice(&body).unwrap_or_default();
            let forbidden: Vec<Value> = sent["requests"].as_array().into_iter().flatten().filter(|r| r["url"].as_str().is_some_and(|u| u.contains(p.forbidden))).map(|r| r["id"].clone()).collect();
            let mut answer: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            for item in answer["responses"].as_array_mut().into_iter().flatten() {
                if forbidden.contains(&item["id"]) {
                    item["status"] = json!(403);
                    item["body"] = json!({"error": {"code": "Forbidden", "message": "Application is not authorized to perform this operation."}});
                }
            }
            bytes = serde_json::to_vec(&answer).unwrap_or_default().into();
        }
        builder.body(axum::body::Body::from(bytes)).unwrap()
    }
    let app = axum::Router::new().fallback(handle).with_state(std::sync::Arc::new(Proxy { upstream, forbidden, http: reqwest::Client::new() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (url, tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_profile_collection_is_unknown_never_created_or_in_sync() {
    let sb = sandbox().await;
    let (dir, dst) = scratch(PROFILES);
    let (proxy, task) = forbidding_proxy(sb.base_url(), "/deviceManagement/windowsFeatureUpdateProfiles").await;
    let mut plan = command(&sb, dir.path());
    plan.env("TENANTCTL_GRAPH_URL", &proxy).args(["plan", "--detailed-exitcode", dst.to_str().unwrap()]);
    let out = plan.output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "a plan without the feature update profiles is an error:\n{stdout}\n{stderr}");
    assert!(format!("{stdout}{stderr}").contains("feature_update_profile.win11"), "the unread profile is named:\n{stdout}\n{stderr}");
    // The other profiles' collections were read: nothing was written anywhere.
    let c = client(&sb);
    assert!(c.beta().get_json("/deviceManagement/windowsFeatureUpdateProfiles").await.unwrap()["value"].as_array().unwrap().is_empty());
    task.abort();
    sb.shutdown().await.unwrap();
}
