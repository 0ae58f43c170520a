//! Named locations (`/identity/conditionalAccess/namedLocations`, v1.0):
//! IP ranges (`ipNamedLocation`) or countries (`countryNamedLocation`).
//! Matched by display name; conditional access policies refer to them by
//! key, so their ids never appear in desired state. A location's type
//! cannot change: a new one is made.

use std::collections::{BTreeMap, BTreeSet};

use engine::apply::ExecError;
use engine::{DesiredResource, LiveObject, Props};
use schema::kinds::named_location::{CountryLookupMethod, NamedLocation};
use schema::{Address, Kind};
use serde_json::{json, Value};

use super::registry::{Api, BoxFuture, Created, KindProvider, Read, BY_DISPLAY_NAME};
use super::{resource, str_field};
use crate::apply::{delete_plain, Writer};
use crate::export::ExportCx;
use crate::graph::{GraphError, Method};
use crate::observe::{ReadCx, Readout};

/// This kind in the provider registry (`super::registry`).
pub const PROVIDER: KindProvider = KindProvider {
    kind: Kind::NamedLocation,
    collection: "/identity/conditionalAccess/namedLocations",
    api: Api::V1,
    natural_key: Some(BY_DISPLAY_NAME),
    created: Created::ListedReadBack,
    desired: |s, m| {
        for (k, d) in &s.named_location { m.insert(desired(k, &d.value)); }
    },
    export_file: "named-locations.toml",
    export_title: "Named locations",
    read: Read::Own(read),
    create,
    update,
    delete: delete_plain,
    export,
    import_paths: &[],
    listings: || vec![PROVIDER.collection.to_string()],
    after_post: &[],
};

const IP: &str = "#microsoft.graph.ipNamedLocation";
const COUNTRY: &str = "#microsoft.graph.countryNamedLocation";

/// A CIDR range in one spelling (IPv6 compressed, lower case), so
/// `2001:DB8:0::/48` and `2001:db8::/48` compare equal.
fn canonical_cidr(c: &str) -> String {
    let c = c.trim();
    match c.split_once('/') {
        Some((a, bits)) => match a.parse::<std::net::IpAddr>() {
            Ok(ip) => format!("{ip}/{bits}"),
            Err(_) => c.to_lowercase(),
        },
        None => c.to_lowercase(),
    }
}

pub fn desired(key: &str, l: &NamedLocation) -> DesiredResource {
    let mut p = Props::new();
    p.insert("displayName".into(), json!(l.display_name));
    if l.is_country() {
        p.insert("@odata.type".into(), json!(COUNTRY));
        let mut countries = l.countries_and_regions.clone();
        countries.sort();
        p.insert("countriesAndRegions".into(), json!(countries));
        p.insert("countryLookupMethod".into(), json!(l.country_lookup_method.unwrap_or(CountryLookupMethod::ClientIpAddress)));
        p.insert("includeUnknownCountriesAndRegions".into(), json!(l.include_unknown_countries_and_regions));
    } else {
        p.insert("@odata.type".into(), json!(IP));
        p.insert("ipRanges".into(), json!(l.ip_ranges.iter().map(|r| canonical_cidr(r)).collect::<Vec<_>>()));
        p.insert("isTrusted".into(), json!(l.is_trusted));
    }
    let mut r = resource(Address::new(Kind::NamedLocation, key), l.display_name.to_lowercase(), l.display_name.clone(), p);
    r.immutable = vec!["@odata.type".into()];
    r
}

pub fn normalize(raw: &Value) -> LiveObject {
    let mut p = Props::new();
    p.insert("displayName".into(), raw.get("displayName").cloned().unwrap_or(Value::Null));
    let ty = str_field(raw, "@odata.type");
    p.insert("@odata.type".into(), json!(ty));
    if ty == COUNTRY {
        for k in ["countriesAndRegions", "countryLookupMethod", "includeUnknownCountriesAndRegions"] {
            p.insert(k.into(), raw.get(k).cloned().unwrap_or(Value::Null));
        }
    } else {
        let ranges: Vec<String> = raw.get("ipRanges").and_then(Value::as_array).into_iter().flatten().filter_map(|r| r.get("cidrAddress").and_then(Value::as_str)).map(canonical_cidr).collect();
        p.insert("ipRanges".into(), json!(ranges));
        p.insert("isTrusted".into(), raw.get("isTrusted").cloned().unwrap_or(json!(false)));
    }
    LiveObject {
        kind: Kind::NamedLocation,
        id: str_field(raw, "id").to_string(),
        natural_key: str_field(raw, "displayName").to_lowercase(),
        display_name: str_field(raw, "displayName").to_string(),
        props: p,
    }
}

/// A property as Graph takes it (IP ranges as typed `ipRange` objects).
fn wire(k: &str, v: &Value) -> Value {
    if k != "ipRanges" {
        return v.clone();
    }
    Value::Array(
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|c| {
                let ty = if c.contains(':') { "#microsoft.graph.iPv6CidrRange" } else { "#microsoft.graph.iPv4CidrRange" };
                json!({ "@odata.type": ty, "cidrAddress": c })
            })
            .collect(),
    )
}

/// The POST body of a new location.
pub fn create_body(r: &DesiredResource) -> Value {
    Value::Object(r.props.iter().map(|(k, v)| (k.clone(), wire(k, v))).collect())
}

/// The PATCH body for the changed `fields`; Graph requires the
/// location's `@odata.type` in every update.
pub fn update_body(r: &DesiredResource, fields: &BTreeSet<String>) -> Value {
    let mut body: serde_json::Map<String, Value> = r.props.iter().filter(|(k, _)| fields.contains(*k)).map(|(k, v)| (k.clone(), wire(k, v))).collect();
    body.insert("@odata.type".into(), r.props.get("@odata.type").cloned().unwrap_or(Value::Null));
    Value::Object(body)
}

/// A live location as TOML.
pub fn export_one(o: &LiveObject) -> Result<NamedLocation, String> {
    let p = &o.props;
    let strings = |k: &str| -> Vec<String> { p.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect() };
    let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
    match p.get("@odata.type").and_then(Value::as_str) {
        Some(COUNTRY) => {
            let method: Option<CountryLookupMethod> = serde_json::from_value(p.get("countryLookupMethod").cloned().unwrap_or(Value::Null)).map_err(|e| format!("countryLookupMethod: {e}"))?;
            Ok(NamedLocation {
                display_name: o.display_name.clone(),
                ip_ranges: vec![],
                is_trusted: false,
                countries_and_regions: strings("countriesAndRegions"),
                country_lookup_method: method.filter(|m| *m != CountryLookupMethod::ClientIpAddress),
                include_unknown_countries_and_regions: flag("includeUnknownCountriesAndRegions"),
            })
        }
        Some(IP) => Ok(NamedLocation {
            display_name: o.display_name.clone(),
            ip_ranges: strings("ipRanges"),
            is_trusted: flag("isTrusted"),
            countries_and_regions: vec![],
            country_lookup_method: None,
            include_unknown_countries_and_regions: false,
        }),
        other => Err(format!("is of type {}, which tenantctl does not model", other.unwrap_or("(none)"))),
    }
}

/// Every live location: its table, a key and a ledger entry each (before
/// the policies that name them, which the registry order gives).
fn export(cx: &mut ExportCx, objects: Vec<&LiveObject>) {
    let mut t = BTreeMap::new();
    for o in objects {
        match export_one(o) {
            Ok(l) => {
                let a = cx.key(Kind::NamedLocation, &o.display_name, &o.id);
                t.insert(a.key.clone(), l);
                cx.record(a, &o.id);
            }
            Err(e) => cx.warn(format!("named location {} ({}): {e}: not exported", o.display_name, o.id)),
        }
    }
    cx.table(Kind::NamedLocation, "", &t);
}

/// Read every named location.
fn read<'a>(cx: &'a ReadCx<'a>) -> BoxFuture<'a, Result<Readout, GraphError>> {
    Box::pin(async move {
        let raw = cx.client.v1().list_all(PROVIDER.collection).await?;
        Ok(raw.iter().map(normalize).collect::<Vec<_>>().into())
    })
}

fn create<'a>(w: &'a Writer<'a>) -> BoxFuture<'a, Result<String, ExecError>> {
    Box::pin(async move {
        let created = w.send(&w.api(), Method::POST, w.base(), Some(create_body(w.desired()?))).await?;
        crate::apply::id_of(&created)
    })
}

fn update<'a>(w: &'a Writer<'a>, id: &'a str) -> BoxFuture<'a, Result<(), ExecError>> {
    Box::pin(async move {
        let body = update_body(w.desired()?, &w.touched());
        w.send(&w.api(), Method::PATCH, &format!("{}/{id}", w.base()), Some(body)).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_compare_in_one_spelling_and_are_written_typed() {
        assert_eq!(canonical_cidr(" 2001:DB8:0::/48"), "2001:db8::/48");
        let l = NamedLocation { display_name: "Office".into(), ip_ranges: vec!["203.0.113.0/24".into(), "2001:db8::/48".into()], is_trusted: true, countries_and_regions: vec![], country_lookup_method: None, include_unknown_countries_and_regions: false };
        let r = desired("office", &l);
        let body = create_body(&r);
        assert_eq!(body["ipRanges"][1], json!({"@odata.type": "#microsoft.graph.iPv6CidrRange", "cidrAddress": "2001:db8::/48"}));
        let mut live = body.clone();
        live["id"] = json!("x");
        let o = normalize(&live);
        assert!(engine::diff::diff_props(&r.props, &o.props).is_empty());
        assert_eq!(export_one(&o).unwrap(), l);
        let only: BTreeSet<String> = ["isTrusted".to_string()].into();
        assert_eq!(update_body(&r, &only), json!({"@odata.type": IP, "isTrusted": true}));
    }
}
