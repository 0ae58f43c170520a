//! What `approve` shows an approver about why a plan needs approval: the
//! sensitivity and lint findings the plan recorded when it was made with
//! the tenant (`Plan::sensitive`, `Plan::lints`, both inside the hash the
//! approver signs), not only what desired state alone gives. A reason
//! desired state alone does not give (the live tenant's: a ring nested out
//! of band, a role held live; or the governance in force's) is marked so,
//! because the approver cannot see it in the desired state they review.

use engine::governance;
use engine::{DesiredModel, Plan};

/// One line per sensitive change: the plan's recorded reason (desired
/// state's when the plan recorded none).
pub fn sensitive_lines(plan: &Plan, desired: &DesiredModel) -> String {
    let size = plan.changes.iter().filter(|c| c.action != engine::Action::Forget).count();
    let mut s = String::new();
    for c in &plan.changes {
        let from_desired = governance::classify(c, desired, size);
        let (why, live) = match (plan.sensitive.get(&c.address), from_desired) {
            (Some(recorded), d) => {
                let live = d.as_deref() != Some(recorded.as_str());
                (recorded.clone(), live)
            }
            (None, Some(d)) => (d, false),
            (None, None) => continue,
        };
        let mark = if live { " [judged at plan time with the tenant and the governance in force]" } else { "" };
        s.push_str(&format!("  sensitive: {} {} ({}){mark}\n", c.action.as_str(), c.address, engine::render::text_safe(&why)));
    }
    s
}

/// The plan's lint findings (errors and warnings, judged with the tenant
/// when the plan was made).
pub fn finding_lines(plan: &Plan) -> String {
    if plan.lints.is_empty() {
        return String::new();
    }
    let mut s = "Findings when the plan was made (desired state and the tenant):\n".to_string();
    for f in &plan.lints {
        s.push_str(&format!("  {}\n", engine::render::text_safe(&f.to_string())));
    }
    s
}
