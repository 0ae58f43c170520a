//! Custom profiles' OMA settings: string, Base64 and XML values come back
//! encrypted on beta (`isEncrypted`, `secretReferenceValueId`, `****`) and
//! are read through `getOmaSettingPlainTextValue`, directly and in `$batch`;
//! v1.0 shows plain values.

mod common;

use common::*;
use serde_json::{json, Value};

const DC: &str = "/beta/deviceManagement/deviceConfigurations";

fn custom(name: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.windows10CustomConfiguration",
        "displayName": name,
        "omaSettings": [
            {"@odata.type": "#microsoft.graph.omaSettingString", "displayName": "Proxy", "omaUri": "./Device/Vendor/MSFT/Policy/Config/Proxy", "value": "proxy.contoso.com:8080"},
            {"@odata.type": "#microsoft.graph.omaSettingInteger", "displayName": "Level", "omaUri": "./Device/Vendor/MSFT/Policy/Config/Level", "value": 3},
            {"@odata.type": "#microsoft.graph.omaSettingBoolean", "displayName": "On", "omaUri": "./Device/Vendor/MSFT/Policy/Config/On", "value": true},
            {"@odata.type": "#microsoft.graph.omaSettingBase64", "displayName": "Cert", "omaUri": "./Device/Vendor/MSFT/Cert", "fileName": "a.cer", "value": "AAEC"},
            {"@odata.type": "#microsoft.graph.omaSettingStringXml", "displayName": "Xml", "omaUri": "./Device/Vendor/MSFT/Xml", "fileName": "a.xml", "value": "PGEvPg=="}
        ]
    })
}

fn plain_url(id: &str, reference: &str) -> String {
    format!("/deviceManagement/deviceConfigurations/{id}/getOmaSettingPlainTextValue(secretReferenceValueId='{reference}')")
}

#[tokio::test]
async fn beta_reads_encrypt_strings_and_the_function_returns_plain_text() {
    let env = start().await;
    let created = env.post(DC, custom("Custom")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();

    let single = env.get(&format!("{DC}/{id}")).await.body;
    let listed = env.get(&format!("{DC}?$expand=assignments")).await.body["value"][0].clone();
    for got in [&single, &listed] {
        let s = got["omaSettings"].as_array().unwrap();
        for i in [0, 3, 4] {
            assert_eq!(s[i]["isEncrypted"], json!(true), "{got}");
            assert_eq!(s[i]["value"], json!("****"), "{got}");
            let r = s[i]["secretReferenceValueId"].as_str().unwrap();
            assert_eq!(r.split('_').nth(1), Some(id.as_str()), "{{guid}}_{{profileId}}_{{guid}}: {r}");
        }
        assert_eq!((s[1]["isEncrypted"].clone(), s[1]["value"].clone()), (json!(false), json!(3)));
        assert_eq!((s[2]["isEncrypted"].clone(), s[2]["value"].clone()), (json!(false), json!(true)));
        assert_eq!(s[1]["secretReferenceValueId"], Value::Null);
    }
    // Stable per setting across reads, distinct between settings.
    assert_eq!(single["omaSettings"], listed["omaSettings"]);
    let refs: Vec<String> = [0, 3, 4].iter().map(|i| single["omaSettings"][i]["secretReferenceValueId"].as_str().unwrap().to_string()).collect();
    assert!(refs[0] != refs[1] && refs[1] != refs[2]);

    // The function, direct and qualified.
    let plain = env.get(&format!("/beta{}", plain_url(&id, &refs[0]))).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(plain.body["value"], json!("proxy.contoso.com:8080"));
    assert!(plain.body["@odata.context"].as_str().unwrap().ends_with("$metadata#Edm.String"));
    let qualified = env.get(&format!("{DC}/{id}/microsoft.graph.getOmaSettingPlainTextValue(secretReferenceValueId='{}')", refs[2])).await;
    assert_eq!(qualified.body["value"], json!("PGEvPg=="));
    assert_graph_error(&env.get(&format!("/beta{}", plain_url(&id, "nope"))).await, 404, "ResourceNotFound");
    assert_graph_error(&env.get(&format!("/beta{}", plain_url("00000000-0000-0000-0000-000000000000", &refs[0]))).await, 404, "ResourceNotFound");
    assert_eq!(env.get(&format!("{DC}/{id}/getOmaSettingPlainTextValue(other='x')")).await.status, 400);

    // A PATCH changes the stored value; read-only properties sent back are ignored.
    let mut settings = single["omaSettings"].clone();
    settings[0]["value"] = json!("proxy2.contoso.com:8080");
    // The masked "****" is not Base64: Graph's reader refuses it for the
    // XML setting's Edm.Binary value, so a client sends the real value back.
    settings[4]["value"] = json!("PGEvPg==");
    let p = env.patch(&format!("{DC}/{id}"), json!({"@odata.type": "#microsoft.graph.windows10CustomConfiguration", "omaSettings": settings})).await;
    assert_eq!(p.status, 204, "{}", p.body);
    let again = env.get(&format!("{DC}/{id}")).await.body;
    assert_eq!(again["omaSettings"][0]["secretReferenceValueId"], json!(refs[0]));
    assert_eq!(env.get(&format!("/beta{}", plain_url(&id, &refs[0]))).await.body["value"], json!("proxy2.contoso.com:8080"));
    let (_, raw) = env.admin("GET", &format!("/objects/deviceConfigurations/{id}"), None).await;
    assert_eq!(raw["data"]["omaSettings"][0]["value"], json!("proxy2.contoso.com:8080"), "stored as given: {raw}");
    assert_eq!(raw["data"]["omaSettings"][0].get("isEncrypted"), None, "read-only properties are not stored: {raw}");
    // The setting PATCHed with "****" now holds "****": Graph documents no
    // round-trip of masked values, so clients must send plain text.
    assert_eq!(env.get(&format!("/beta{}", plain_url(&id, &refs[1]))).await.body["value"], json!("****"));

    // v1.0 shows the stored values, without the beta-only properties.
    let v1 = env.get(&format!("/v1.0/deviceManagement/deviceConfigurations/{id}")).await.body;
    assert_eq!(v1["omaSettings"][0]["value"], json!("proxy2.contoso.com:8080"));
    assert_eq!(v1["omaSettings"][0].get("isEncrypted"), None);
    assert_eq!(v1["omaSettings"][0].get("secretReferenceValueId"), None);
}

#[tokio::test]
async fn the_function_works_in_batch_and_is_counted() {
    let env = start().await;
    let id = env.post(DC, custom("Custom")).await.body["id"].as_str().unwrap().to_string();
    let got = env.get(&format!("{DC}/{id}")).await.body;
    let reference = got["omaSettings"][0]["secretReferenceValueId"].as_str().unwrap().to_string();
    env.sb.reset_counts();
    let single = env.get(&format!("/beta{}", plain_url(&id, &reference))).await;
    assert_eq!(single.status, 200);
    let batch = env
        .post(
            "/beta/$batch",
            json!({"requests": [
                {"id": "1", "method": "GET", "url": plain_url(&id, &reference)},
                {"id": "2", "method": "GET", "url": plain_url(&id, "unknown")}
            ]}),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.body);
    let responses = batch.body["responses"].as_array().unwrap();
    let by_id = |i: &str| responses.iter().find(|r| r["id"] == json!(i)).unwrap().clone();
    assert_eq!(by_id("1")["status"], json!(200));
    assert_eq!(by_id("1")["body"]["value"], json!("proxy.contoso.com:8080"));
    assert_eq!(by_id("2")["status"], json!(404));
    let counts = env.sb.request_counts();
    let pattern = "GET /beta/deviceManagement/deviceConfigurations/{id}/getOmaSettingPlainTextValue(…)";
    assert_eq!(counts.get(pattern), 1, "{counts:#?}");
    assert_eq!(counts.batch_items.get(pattern).copied(), Some(2), "{counts:#?}");
}
