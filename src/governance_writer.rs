//! `plan --author-name`: the person who wrote the change, recorded in the
//! plan (see `engine::governance::written_by`).

use anyhow::{bail, Result};
use engine::{DesiredModel, Plan};

/// Record `name` as the plan's writer, refused unless the governance in
/// force (the plan's review; desired on first use) lists that person.
pub fn set(plan: &mut Plan, desired: &DesiredModel, name: Option<&str>) -> Result<()> {
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else { return Ok(()) };
    let gov = plan.governance.as_ref().map(|g| &g.in_force).unwrap_or(&desired.governance);
    if let Some(problem) = engine::governance::written_by::problem(gov, name) {
        bail!("{problem}");
    }
    plan.written_by = engine::governance::written_by::listed(gov, name).map(str::to_string);
    Ok(())
}
