//! The `named_location` kind: an IP and a country location are created
//! before the conditional access policy that names them by key, a
//! converged tenant plans empty, a range change is an update of the
//! location alone, export writes them (and the policy's reference by key),
//! Graph (and the sandbox) refuses deleting a location a policy uses, and
//! an undeclared location the ledger owns is deleted once no policy uses it.

mod common;

use common::*;
use engine::{Action, Ledger};
use serde_json::json;

const LOCATIONS: &str = r#"
[named_location.hq]
display_name = "HQ"
ip_ranges = ["198.51.100.0/24"]
is_trusted = true

[named_location.eu]
display_name = "EU countries"
countries_and_regions = ["FR", "NL"]
include_unknown_countries_and_regions = true

[conditional_access.block-elsewhere]
display_name = "Block outside HQ and the EU"
state = "enabledForReportingButNotEnforced"
users = { include_users = ["All"], exclude_users = ["breakglass-1"], exclude_groups = ["service-accounts"] }
applications = { include_applications = ["All"] }
locations = { include_locations = ["All"], exclude_locations = ["hq", "eu"] }
grant = { built_in_controls = ["block"] }
"#;

fn scratch(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    kind_scratch(&["named_location", "conditional_access"], "the named_location kind", "locations.toml", text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_locations_are_created_compared_updated_exported_and_deleted() {
    let sb = sandbox().await;
    let c = client(&sb);
    let (_dir, dst) = scratch(LOCATIONS);
    let mut ledger = Ledger::default();

    // Create: the locations first; the policy waits on them.
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    for a in ["named_location.hq", "named_location.eu"] {
        let ch = p.changes.iter().find(|c| c.address.to_string() == a).unwrap_or_else(|| panic!("{a} not planned"));
        assert_eq!(ch.action, Action::Create);
    }
    let policy = p.changes.iter().find(|c| c.address.to_string() == "conditional_access.block-elsewhere").unwrap();
    assert!(policy.waits_on.iter().any(|a| a.to_string() == "named_location.hq"), "{policy:#?}");
    apply(&c, &p, &mut ledger).await;
    let hq = id_of(&ledger, "named_location.hq");
    let eu = id_of(&ledger, "named_location.eu");
    let live = c.v1().get_json(&format!("/identity/conditionalAccess/namedLocations/{hq}")).await.unwrap();
    assert_eq!(live["@odata.type"], json!("#microsoft.graph.ipNamedLocation"));
    assert_eq!(live["ipRanges"], json!([{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "198.51.100.0/24"}]));
    assert_eq!(live["isTrusted"], json!(true));
    let live = c.v1().get_json(&format!("/identity/conditionalAccess/namedLocations/{eu}")).await.unwrap();
    assert_eq!(live["countriesAndRegions"], json!(["FR", "NL"]));
    assert_eq!(live["includeUnknownCountriesAndRegions"], json!(true));
    let pid = id_of(&ledger, "conditional_access.block-elsewhere");
    let policy = c.v1().get_json(&format!("/identity/conditionalAccess/policies/{pid}")).await.unwrap();
    let mut excluded: Vec<String> = policy["conditions"]["locations"]["excludeLocations"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    excluded.sort();
    let mut want = vec![hq.clone(), eu.clone()];
    want.sort();
    assert_eq!(excluded, want, "the policy names the locations by their new ids");

    // Converged.
    let again = plan(&c, &load_ok(&dst), &ledger).await;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    // Update: another range is an update of the location alone, sent with its type.
    std::fs::write(dst.join("locations.toml"), LOCATIONS.replace("[\"198.51.100.0/24\"]", "[\"198.51.100.0/24\", \"2001:db8:7::/48\"]")).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    assert_eq!(p.changes.len(), 1, "{:#?}", p.changes);
    assert_eq!((p.changes[0].address.to_string(), p.changes[0].action), ("named_location.hq".to_string(), Action::Update));
    apply(&c, &p, &mut ledger).await;
    let live = c.v1().get_json(&format!("/identity/conditionalAccess/namedLocations/{hq}")).await.unwrap();
    assert_eq!(live["ipRanges"][1], json!({"@odata.type": "#microsoft.graph.iPv6CidrRange", "cidrAddress": "2001:db8:7::/48"}));
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());

    // Export writes both locations and the policy naming them by key.
    let (_tmp, out) = export_tenant(&sb);
    let exported = schema::load(&out).expect("the export loads");
    let hq_key = exported.named_location.iter().find(|(_, d)| d.value.display_name == "HQ").map(|(k, _)| k.clone()).expect("HQ exported");
    assert!(exported.named_location.values().any(|d| d.value.countries_and_regions == ["FR", "NL"]));
    let policy = exported.conditional_access.values().find(|d| d.value.display_name == "Block outside HQ and the EU").expect("policy exported");
    assert!(policy.value.locations.as_ref().unwrap().exclude_locations.contains(&hq_key), "{:?}", policy.value.locations);

    // Delete: Graph refuses deleting a location a policy uses.
    let r = c.v1().delete(&format!("/identity/conditionalAccess/namedLocations/{eu}")).await;
    assert!(r.is_err(), "a location a policy uses was deleted");
    // Undeclared, and no longer used by the policy: deleted (policy first updated).
    let without_eu = LOCATIONS
        .replace("[named_location.eu]\ndisplay_name = \"EU countries\"\ncountries_and_regions = [\"FR\", \"NL\"]\ninclude_unknown_countries_and_regions = true\n", "")
        .replace("exclude_locations = [\"hq\", \"eu\"]", "exclude_locations = [\"hq\"]");
    std::fs::write(dst.join("locations.toml"), without_eu).unwrap();
    let p = plan(&c, &load_ok(&dst), &ledger).await;
    let delete = p.changes.iter().find(|c| c.address.to_string() == "named_location.eu").expect("the location is deleted");
    assert_eq!(delete.action, Action::Delete);
    apply(&c, &p, &mut ledger).await;
    assert!(c.v1().get_json(&format!("/identity/conditionalAccess/namedLocations/{eu}")).await.is_err());
    assert!(plan(&c, &load_ok(&dst), &ledger).await.changes.is_empty());
    sb.shutdown().await.unwrap();
}

fn errors(text: &str) -> String {
    match schema::load_str(&[("a.toml", text)]) {
        Err(schema::LoadError::Invalid(d)) => d.to_string(),
        other => panic!("expected validation errors, got {other:?}"),
    }
}

#[test]
fn bad_ranges_and_country_codes_are_refused_with_their_location() {
    let bad = LOCATIONS.replace("\"198.51.100.0/24\"", "\"198.51.100.7/24\"").replace("[\"FR\", \"NL\"]", "[\"FR\", \"nl\", \"XX\"]");
    let err = errors(&bad);
    assert!(err.contains("host bits") && err.contains("198.51.100.0/24"), "{err}");
    assert!(err.contains("`nl` is not an ISO 3166-1") && err.contains("did you mean `NL`"), "{err}");
    assert!(err.contains("`XX`"), "{err}");
    let unknown = LOCATIONS.replace("exclude_locations = [\"hq\", \"eu\"]", "exclude_locations = [\"hq\", \"europe\"]");
    let err = errors(&unknown);
    assert!(err.contains("europe") && err.contains("named_location"), "{err}");
}
