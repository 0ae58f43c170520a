//! The TOML <-> Graph mapping shared by the tenant-wide settings kinds
//! (`authorization_policy`, `cross_tenant_access`): field names are
//! converted by one table (Graph spells some irregularly:
//! `allowedToUseSSPR`, `isHybridAzureADJoinedDeviceAccepted`), the guest
//! role by name, and target lists sorted, so desired and live compare in
//! one form. Live properties not in the table are not managed (nor
//! exported).

use serde_json::{Map, Value};

use schema::kinds::authorization_policy::GuestUserRole;

/// (TOML name, Graph name).
const FIELDS: &[(&str, &str)] = &[
    ("allow_invites_from", "allowInvitesFrom"),
    ("allowed_to_sign_up_email_based_subscriptions", "allowedToSignUpEmailBasedSubscriptions"),
    ("allow_email_verified_users_to_join_organization", "allowEmailVerifiedUsersToJoinOrganization"),
    ("allowed_to_use_sspr", "allowedToUseSSPR"),
    ("block_msol_power_shell", "blockMsolPowerShell"),
    ("default_user_role_permissions", "defaultUserRolePermissions"),
    ("allowed_to_create_apps", "allowedToCreateApps"),
    ("allowed_to_create_security_groups", "allowedToCreateSecurityGroups"),
    ("allowed_to_create_tenants", "allowedToCreateTenants"),
    ("allowed_to_read_bitlocker_keys_for_owned_device", "allowedToReadBitlockerKeysForOwnedDevice"),
    ("allowed_to_read_other_users", "allowedToReadOtherUsers"),
    ("tenant_id", "tenantId"),
    ("inbound_trust", "inboundTrust"),
    ("is_mfa_accepted", "isMfaAccepted"),
    ("is_compliant_device_accepted", "isCompliantDeviceAccepted"),
    ("is_hybrid_azure_ad_joined_device_accepted", "isHybridAzureADJoinedDeviceAccepted"),
    ("b2b_collaboration_inbound", "b2bCollaborationInbound"),
    ("b2b_collaboration_outbound", "b2bCollaborationOutbound"),
    ("users_and_groups", "usersAndGroups"),
    ("applications", "applications"),
    ("access_type", "accessType"),
    ("targets", "targets"),
    ("target", "target"),
    ("target_type", "targetType"),
    ("automatic_user_consent_settings", "automaticUserConsentSettings"),
    ("inbound_allowed", "inboundAllowed"),
    ("outbound_allowed", "outboundAllowed"),
];

const GUEST_ROLE: (&str, &str) = ("guest_user_role", "guestUserRoleId");

/// Target lists in one order, so a reordering is no drift.
fn sort_targets(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "targets" {
                    if let Value::Array(a) = x {
                        a.sort_by_key(|t| t.to_string());
                    }
                }
                sort_targets(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(sort_targets),
        _ => {}
    }
}

fn rename(v: Value, to_graph: bool) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                if to_graph && k == GUEST_ROLE.0 {
                    let id = serde_json::from_value::<GuestUserRole>(x).map(|r| r.id()).unwrap_or_default();
                    out.insert(GUEST_ROLE.1.into(), Value::String(id.into()));
                    continue;
                }
                if !to_graph && k == GUEST_ROLE.1 {
                    if let Some(r) = x.as_str().and_then(GuestUserRole::from_id) {
                        out.insert(GUEST_ROLE.0.into(), serde_json::to_value(r).unwrap_or(Value::Null));
                    }
                    continue;
                }
                let found = FIELDS.iter().find(|(s, g)| if to_graph { *s == k } else { *g == k });
                if let Some((s, g)) = found {
                    if x.is_null() {
                        continue;
                    }
                    out.insert((if to_graph { g } else { s }).to_string(), rename(x, to_graph));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| rename(x, to_graph)).collect()),
        other => other,
    }
}

/// A declared TOML value (serialized schema type) as Graph properties.
pub fn to_graph<T: serde::Serialize>(declared: &T) -> Map<String, Value> {
    let mut v = rename(serde_json::to_value(declared).unwrap_or(Value::Null), true);
    sort_targets(&mut v);
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Live Graph properties, only the managed ones, in the compared form.
pub fn live(raw: &Value) -> Map<String, Value> {
    let graph = rename(raw.clone(), false);
    match rename(graph, true) {
        Value::Object(mut m) => {
            let mut v = Value::Object(std::mem::take(&mut m));
            sort_targets(&mut v);
            v.as_object().cloned().unwrap_or_default()
        }
        _ => Map::new(),
    }
}

/// Live properties (compared form) as the TOML type.
pub fn export<T: serde::de::DeserializeOwned>(props: &Map<String, Value>) -> Result<T, String> {
    serde_json::from_value(rename(Value::Object(props.clone()), false)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use schema::kinds::{AuthorizationPolicy, CrossTenantAccess};
    use serde_json::json;

    #[test]
    fn names_convert_both_ways_and_unmanaged_ones_are_dropped() {
        let toml: AuthorizationPolicy = serde_json::from_value(json!({"allowed_to_use_sspr": false, "guest_user_role": "Restricted Guest User", "default_user_role_permissions": {"allowed_to_create_apps": false}})).unwrap();
        let g = to_graph(&toml);
        assert_eq!(Value::Object(g.clone()), json!({"allowedToUseSSPR": false, "guestUserRoleId": "2af84b1e-32c8-42b7-82bc-daa82404023b", "defaultUserRolePermissions": {"allowedToCreateApps": false}}));
        let mut raw = g.clone();
        raw.insert("id".into(), json!("authorizationPolicy"));
        raw.insert("allowUserConsentForRiskyApps".into(), Value::Null);
        assert_eq!(live(&Value::Object(raw)), g);
        assert_eq!(export::<AuthorizationPolicy>(&g).unwrap(), toml);
        let c: CrossTenantAccess = serde_json::from_value(json!({"inbound_trust": {"is_hybrid_azure_ad_joined_device_accepted": true}})).unwrap();
        assert_eq!(Value::Object(to_graph(&c)), json!({"inboundTrust": {"isHybridAzureADJoinedDeviceAccepted": true}}));
    }
}
