//! `plan --author-name`: the person who wrote the change, recorded in the
//! plan (see `engine::governance::written_by`).

use anyhow::{bail, Result};
use engine::{DesiredModel, Plan};

/// Record `name` as the plan's writer, refused unless the governance in
/// force (the plan's review; desired on first use) lists that person.
pub fn set(plan: &mut Plan, desired: &DesiredModel, name: Option<&str>) -> Result<()> {
    let Some(name) = name else { return Ok(()) };
    if name.trim().is_empty() {
        // Given but empty (a CI step that found no pull request): failing
        // closed, or the writer's own approval could not be refused
        // (hostile run 15, finding 15).
        bail!("--author-name (or TENANTCTL_AUTHOR_NAME) is empty: name the person who wrote the change, or leave it unset when no one is to be named");
    }
    let gov = plan.governance.as_ref().map(|g| &g.in_force).unwrap_or(&desired.governance);
    if let Some(problem) = engine::governance::written_by::problem(gov, name) {
        bail!("{problem}");
    }
    plan.written_by = engine::governance::written_by::listed(gov, name).map(str::to_string);
    Ok(())
}
