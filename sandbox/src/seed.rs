//! Deterministic tenant generation for benchmarks: N users, groups with
//! memberships, and Intune policies, all derived from one seed (ids too), so
//! the same seed always yields the same tenant.

use crate::store::{Record, Tenant, MEMBERS};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// What to generate; also the body of `POST /_sandbox/seed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedSpec {
    pub seed: u64,
    pub users: usize,
    pub groups: usize,
    pub memberships_per_group: usize,
    pub policies: usize,
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeedReport {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub policies: usize,
}

const FIRST: &[&str] = &["Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Grace", "Hugo", "Ines", "Jun", "Kai", "Lena", "Mo", "Nia", "Omar", "Pia"];
const LAST: &[&str] = &["Ahmed", "Brown", "Chen", "Diaz", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito", "Jansen", "Kowalski", "Larsen", "Moreau", "Novak"];

fn guid(rng: &mut StdRng) -> String {
    let h = hex::encode(rng.gen::<[u8; 16]>());
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Adds the generated objects to the tenant (existing seeded ids are overwritten).
pub fn seed(t: &mut Tenant, spec: &SeedSpec) -> SeedReport {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let domain = t.info.domain.clone();
    let created = "2024-01-01T00:00:00Z";
    let mut report = SeedReport::default();
    let mut user_ids = Vec::with_capacity(spec.users);
    for i in 0..spec.users {
        let id = guid(&mut rng);
        let first = FIRST[rng.gen_range(0..FIRST.len())];
        let last = LAST[rng.gen_range(0..LAST.len())];
        let upn = format!("seed{}.user{i:06}@{domain}", spec.seed);
        if t.user_by_upn(&upn).is_some_and(|existing| existing != id) {
            continue;
        }
        let data = obj(json!({
            "id": id, "businessPhones": [], "displayName": format!("{first} {last} {i}"), "givenName": first, "surname": last,
            "jobTitle": null, "mail": null, "mobilePhone": null, "officeLocation": null, "preferredLanguage": null,
            "userPrincipalName": upn, "mailNickname": format!("seed{}.user{i:06}", spec.seed), "accountEnabled": true,
            "userType": "Member", "usageLocation": "US", "department": null, "employeeId": null, "createdDateTime": created, "passwordPolicies": null
        }));
        t.put("users", &id, Record { data, nav: Map::new(), created_ms: 0 });
        user_ids.push(id);
        report.users += 1;
    }
    for i in 0..spec.groups {
        let id = guid(&mut rng);
        let data = obj(json!({
            "id": id, "description": format!("Seeded group {i}"), "classification": null, "createdDateTime": created, "deletedDateTime": null,
            "displayName": format!("Seed {} Group {i:05}", spec.seed), "expirationDateTime": null, "groupTypes": [], "isAssignableToRole": null,
            "mail": null, "mailEnabled": false, "mailNickname": format!("seed{}-group{i:05}", spec.seed), "membershipRule": null,
            "membershipRuleProcessingState": null, "proxyAddresses": [], "renewedDateTime": created, "securityEnabled": true,
            "securityIdentifier": format!("S-1-12-1-{}", rng.gen::<u32>()), "visibility": null
        }));
        t.put("groups", &id, Record { data, nav: Map::new(), created_ms: 0 });
        let n = spec.memberships_per_group.min(user_ids.len());
        for idx in sample(&mut rng, user_ids.len(), n).into_iter() {
            if t.add_link(&id, MEMBERS, &user_ids[idx]) {
                report.memberships += 1;
            }
        }
        report.groups += 1;
    }
    for i in 0..spec.policies {
        let id = guid(&mut rng);
        let (coll, data, nav) = match i % 3 {
            0 => (
                "deviceConfigurations",
                obj(json!({"@odata.type": "#microsoft.graph.windows10GeneralConfiguration", "id": id, "displayName": format!("Seed {} Config {i:04}", spec.seed),
                    "description": null, "createdDateTime": created, "lastModifiedDateTime": created, "version": 1, "passwordRequired": rng.gen::<bool>()})),
                Map::new(),
            ),
            1 => (
                "deviceConfigurations",
                obj(json!({"@odata.type": "#microsoft.graph.windowsUpdateForBusinessConfiguration", "id": id, "displayName": format!("Seed {} Update Ring {i:04}", spec.seed),
                    "description": null, "createdDateTime": created, "lastModifiedDateTime": created, "version": 1,
                    "qualityUpdatesDeferralPeriodInDays": rng.gen_range(0..=30), "featureUpdatesDeferralPeriodInDays": 0,
                    "deadlineForQualityUpdatesInDays": rng.gen_range(0..=7), "deadlineGracePeriodInDays": 2})),
                Map::new(),
            ),
            _ => {
                let rule_id = guid(&mut rng);
                let action_id = guid(&mut rng);
                let nav = obj(json!({"scheduledActionsForRule": [{"@odata.type": "#microsoft.graph.deviceComplianceScheduledActionForRule", "id": rule_id, "ruleName": "PasswordRequired",
                    "scheduledActionConfigurations": [{"@odata.type": "#microsoft.graph.deviceComplianceActionItem", "id": action_id, "actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": "", "notificationMessageCCList": []}]}]}));
                (
                    "deviceCompliancePolicies",
                    obj(json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "id": id, "displayName": format!("Seed {} Compliance {i:04}", spec.seed),
                        "description": null, "createdDateTime": created, "lastModifiedDateTime": created, "version": 1, "passwordRequired": true})),
                    nav,
                )
            }
        };
        t.put(coll, &id, Record { data, nav, created_ms: 0 });
        report.policies += 1;
    }
    report
}
