//! Cross-kind: `[governance.managed_desktop]` names declared objects.

use crate::diagnostic::Origin;
use crate::path;
use crate::validate::Ctx;

/// `[governance.managed_desktop]`: its keys name declared objects, ring
/// device groups hold devices only, and at most one Autopilot profile
/// targets the all-devices group.
pub(super) fn check_managed_desktop(cx: &mut Ctx) {
    let Some(g) = &cx.state.governance else { return };
    let Some(md) = &g.value.managed_desktop else { return };
    let origin = &g.origin;
    let mut groups: Vec<(&str, usize, &String)> = md.rings.iter().enumerate().map(|(i, k)| ("rings", i, k)).collect();
    for (field, k) in [("all_devices", &md.all_devices), ("service_accounts_group", &md.service_accounts_group)] {
        if let Some(k) = k {
            groups.push((field, usize::MAX, k));
        }
    }
    // A key a file that failed to parse meant to declare is not reported
    // again: that file's own error says everything.
    let broken = |kind: &str, k: &str| cx.state.broken.iter().any(|a| a.kind.as_str() == kind && a.key == k);
    for (field, i, k) in groups {
        if !cx.state.group.contains_key(k) && !broken("group", k) {
            let message = format!("governance.managed_desktop.{field}: no group `{k}` is declared");
            if i == usize::MAX {
                cx.error("unknown-reference", origin, &path!["governance", "managed_desktop", field], message);
            } else {
                cx.error("unknown-reference", origin, &path!["governance", "managed_desktop", field, i], message);
            }
        }
    }
    if let Some(k) = &md.autopilot_profile {
        if !cx.state.autopilot_profile.contains_key(k) && !broken("autopilot_profile", k) {
            cx.error("unknown-reference", origin, &path!["governance", "managed_desktop", "autopilot_profile"], format!("governance.managed_desktop.autopilot_profile: no autopilot_profile `{k}` is declared"));
        }
    }
    for ring in &md.rings {
        let Some(d) = cx.state.group.get(ring) else { continue };
        for (i, m) in d.value.members.iter().flatten().enumerate() {
            if cx.state.user.contains_key(m) || cx.state.guest.contains_key(m) {
                cx.error("ring-devices-only", &d.origin, &path!["group", ring.as_str(), "members", i], format!("group.{ring} is a Managed Desktop ring device group: it holds devices only, not `{m}`"));
            }
        }
    }
    if let Some(all) = &md.all_devices {
        let targeting: Vec<(&String, &Origin)> =
            cx.state.autopilot_profile.iter().filter(|(_, d)| d.value.assignments.include.iter().any(|i| i == all)).map(|(k, d)| (k, &d.origin)).collect();
        if targeting.len() > 1 {
            let names: Vec<String> = targeting.iter().map(|(k, _)| format!("autopilot_profile.{k}")).collect();
            for (k, origin) in &targeting[1..] {
                let at = path!["autopilot_profile", k.as_str(), "assignments", "include"];
                cx.error("one-autopilot-profile", origin, &at, format!("autopilot_profile.{k}: at most one Autopilot profile targets the all-devices group {all} ({})", names.join(", ")));
            }
        }
    }
}
