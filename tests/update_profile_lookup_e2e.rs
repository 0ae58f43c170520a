//! The Windows update profile collections refuse `$filter` ("Query option
//! 'Filter' is not allowed", as Graph answers: microsoftgraph/microsoft-graph-docs#21581),
//! so the lookup by natural key every create makes first lists them whole:
//! a feature update profile made by hand with the declared name is adopted,
//! not duplicated, and the sandbox refuses the filter as Graph does.

mod common;

use common::*;
use engine::Ledger;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_profiles_are_found_by_name_without_a_filter() {
    let sb = sandbox().await;
    let c = client(&sb);
    for coll in ["windowsFeatureUpdateProfiles", "windowsQualityUpdateProfiles", "windowsDriverUpdateProfiles"] {
        let e = c.beta().list_all(&format!("/deviceManagement/{coll}?$filter=displayName%20eq%20'x'")).await.expect_err("refused");
        assert!(format!("{e:?}").contains("Query option 'Filter' is not allowed"), "{coll}: {e:?}");
    }
    // The plan creates the example's ring profiles; one of them is made by
    // hand before apply (as by a run killed after its POST): the create's
    // lookup finds it by name and adopts it.
    let state = example();
    let (key, declared) = state.feature_update_profile.iter().next().expect("the example has feature update profiles");
    let p = plan(&c, &state, &Ledger::default()).await;
    assert!(p.changes.iter().any(|ch| ch.address.to_string() == format!("feature_update_profile.{key}") && ch.action == engine::Action::Create));
    let made = c
        .beta()
        .execute(providers::graph::GraphRequest::new(providers::graph::Method::POST, "/deviceManagement/windowsFeatureUpdateProfiles").json(json!({
            "@odata.type": "#microsoft.graph.windowsFeatureUpdateProfile",
            "displayName": declared.value.display_name,
            "featureUpdateVersion": declared.value.feature_update_version,
        })))
        .await
        .expect("made by hand");
    let by_hand = made.body.unwrap_or(Value::Null)["id"].as_str().unwrap().to_string();
    let mut ledger = Ledger::default();
    let report = apply(&c, &p, &mut ledger).await;
    assert!(report.results.iter().any(|r| r.address.to_string() == format!("feature_update_profile.{key}")), "{report:#?}");
    let profiles = c.beta().list_all("/deviceManagement/windowsFeatureUpdateProfiles").await.unwrap();
    let named: Vec<&Value> = profiles.iter().filter(|o| o["displayName"] == json!(declared.value.display_name)).collect();
    assert_eq!(named.len(), 1, "no duplicate: {named:#?}");
    assert_eq!(ledger.id(&format!("feature_update_profile.{key}").parse().unwrap()), Some(by_hand.as_str()));
    sb.shutdown().await.unwrap();
}
