//! An approval stage the plan re-points to other approvers (hostile run
//! 28, finding 8).
//!
//! A request waiting for approval was sent to the approvers its stage had
//! when it was made; re-pointing the stage (the requestor's manager
//! replaced by a group, one person by another) leaves those requests with
//! the approvers taken out, who can still decide them. So a stage, present
//! on both sides with approval required for add, from which the plan takes
//! out an approver (primary, fallback, escalation or fallback escalation),
//! counts as a change to the requests waiting through the policy, whatever
//! the number of stages does. An approver only added takes no one's power
//! away and is not counted. Subjects compare as live props name them
//! (`access_policy_audience::resolve`: a declared user or group by its
//! live id, a special approver by name).

use serde_json::Value;

use super::access_policy_reach::{group_id, members_said, Directory, Side};

/// The approver lists of a stage, in props form, with how they are said.
const LISTS: &[(&str, &str)] = &[
    ("primaryApprovers", "approver"),
    ("fallbackPrimaryApprovers", "fallback approver"),
    ("escalationApprovers", "escalation approver"),
    ("fallbackEscalationApprovers", "fallback escalation approver"),
];

fn stages(p: &Value) -> &[Value] {
    p.pointer("/requestApprovalSettings/stages").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn approval(p: &Value) -> bool {
    p.pointer("/requestApprovalSettings/isApprovalRequiredForAdd").and_then(Value::as_bool).unwrap_or(false)
}

/// How the declared policy `want` (subjects resolved) re-points the
/// approval stages of the live `have`: "approval stage 1 re-pointed (1
/// approver taken out, ...)", one entry a stage.
pub fn repointed(want: &Value, have: &Value) -> Vec<String> {
    if !approval(want) || !approval(have) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (n, (w, h)) in stages(want).iter().zip(stages(have)).enumerate() {
        let mut out_of = Vec::new();
        for (list, said) in LISTS {
            // A list desired state leaves out is not changed by the plan.
            let Some(kept) = w.get(*list).and_then(Value::as_array) else { continue };
            // A declared approver not resolved to a live id (the subject
            // was not read, or not this run: a reconcile pass reads users
            // and groups through delta) cannot be compared: nothing is
            // said of the list, rather than every live approver being
            // "taken out" (a quiet pass queried the waiting requests).
            let keys: Option<Vec<&str>> = kept.iter().map(subject).collect();
            let Some(keys) = keys else { continue };
            let gone = h.get(*list).and_then(Value::as_array).into_iter().flatten().filter(|a| subject(a).is_none_or(|s| !keys.contains(&s))).count();
            if gone > 0 {
                out_of.push(format!("{gone} {said}{} taken out", if gone == 1 { "" } else { "s" }));
            }
        }
        if !out_of.is_empty() {
            out.push(format!("approval stage {} re-pointed ({}; requests already sent there stay with them)", n + 1, out_of.join(", ")));
        }
    }
    out
}

/// How the declared policy `want` (subjects resolved) re-points the
/// approval stages of the live `have` through the membership of the
/// approver groups it keeps (access18): a group approver (of any of a
/// stage's lists) from which the plan takes out a member, directly, as a
/// nested group or through a narrowed rule (`access_policy_reach`), who
/// does not still approve in that stage another way. The requests already
/// sent to the group stay with the people taken out of it, as with an
/// approver taken out of the stage.
pub fn regrouped(want: &Value, have: &Value, dir: &Directory<'_>) -> Vec<String> {
    if !approval(want) || !approval(have) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (n, (w, h)) in stages(want).iter().zip(stages(have)).enumerate() {
        // Each list as the plan leaves it: declared, else as live.
        let lists: Vec<(&str, &[Value], &[Value])> = LISTS
            .iter()
            .map(|(list, said)| {
                let live = h.get(*list).and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                (*said, w.get(*list).and_then(Value::as_array).map_or(live, Vec::as_slice), live)
            })
            .collect();
        // A declared approver not resolved to a live id: nothing to compare.
        if lists.iter().any(|(_, after, _)| after.iter().any(|a| subject(a).is_none())) {
            continue;
        }
        let approvers: Vec<String> = lists.iter().flat_map(|(_, after, _)| after.iter()).filter_map(engine::model::as_reference).map(str::to_string).collect();
        let after = dir.reach_all(&approvers, Side::Planned);
        let mut out_of = Vec::new();
        for (said, kept, live) in &lists {
            let kept: Vec<&str> = kept.iter().filter_map(|a| group_id(dir, a)).collect();
            for g in live.iter().filter_map(|a| group_id(dir, a)).filter(|g| kept.contains(g)) {
                let lost = dir.lost(&dir.reach(g, Side::Live), &after);
                if lost.is_empty() {
                    continue;
                }
                let mut words = Vec::new();
                if !lost.people.is_empty() {
                    words.push(format!("loses {}", members_said(&lost)));
                }
                if !lost.unknown.is_empty() {
                    words.push(format!("no longer reaches everyone it did ({})", lost.unknown.join("; ")));
                }
                out_of.push(format!("{said} group `{}` {}", dir.name(g), words.join(" and ")));
            }
        }
        if !out_of.is_empty() {
            out.push(format!("approval stage {} re-pointed ({}; requests already sent there stay with them)", n + 1, out_of.join(", ")));
        }
    }
    out
}

/// How a subject compares: a live id (a reference) or a special approver's
/// name; `None` for a declared address left unresolved.
fn subject(v: &Value) -> Option<&str> {
    match engine::model::as_reference(v) {
        Some(r) if r.parse::<schema::Address>().is_ok() => None,
        Some(r) => Some(r),
        None => v.as_str().filter(|s| s.parse::<schema::Address>().is_err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::model::reference;
    use serde_json::json;

    fn policy(required: bool, stages: Value) -> Value {
        json!({"requestApprovalSettings": {"isApprovalRequiredForAdd": required, "stages": stages}})
    }

    #[test]
    fn an_approver_taken_out_of_a_stage_is_a_re_pointing_and_one_added_is_not() {
        let adele = reference("u-adele");
        let megan = reference("u-megan");
        let leads = reference("g-leads");
        let have = policy(true, json!([{"primaryApprovers": ["requestor_manager"], "fallbackPrimaryApprovers": [adele]}]));
        assert!(repointed(&have, &have).is_empty());
        let moved = policy(true, json!([{"primaryApprovers": [leads], "fallbackPrimaryApprovers": [adele]}]));
        assert_eq!(repointed(&moved, &have), vec!["approval stage 1 re-pointed (1 approver taken out; requests already sent there stay with them)".to_string()]);
        let added = policy(true, json!([{"primaryApprovers": ["requestor_manager", leads], "fallbackPrimaryApprovers": [adele, megan]}]));
        assert!(repointed(&added, &have).is_empty(), "approvers added take no one's power away");
        let fallback = policy(true, json!([{"primaryApprovers": ["requestor_manager"], "fallbackPrimaryApprovers": [megan]}, {"primaryApprovers": [adele]}]));
        assert_eq!(repointed(&fallback, &have), vec!["approval stage 1 re-pointed (1 fallback approver taken out; requests already sent there stay with them)".to_string()]);
        assert!(repointed(&policy(false, json!([])), &have).is_empty(), "approval turned off re-points nothing");
        assert!(repointed(&moved, &policy(false, json!([{"primaryApprovers": ["requestor_manager"]}]))).is_empty(), "no approval was required before");
        let unresolved = policy(true, json!([{"primaryApprovers": ["requestor_manager"], "fallbackPrimaryApprovers": [reference("user.adele")]}]));
        assert!(repointed(&unresolved, &have).is_empty(), "a declared approver not resolved to a live id is not taken for another one");
    }
}
