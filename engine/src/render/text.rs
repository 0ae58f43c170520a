//! Plain or coloured text for terminals.

use std::fmt::Write;

use crate::plan::{Action, Plan};
use crate::render::{headline, show_value, text_safe as t};

struct Paint(bool);

impl Paint {
    fn c(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// The plan as text; `color` adds ANSI colours (only on a terminal).
pub fn text(plan: &Plan, color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    let _ = writeln!(out, "Plan: {} ({} unchanged)", headline(plan), plan.unchanged.len());
    let mut wave = None;
    for c in &plan.changes {
        if wave != Some(c.wave) {
            wave = Some(c.wave);
            let _ = writeln!(out, "\n{}", p.c("1", &format!("wave {}", c.wave + 1)));
        }
        let code = match c.action {
            Action::Create => "32",
            Action::Update | Action::Assign => "33",
            Action::Replace | Action::Delete | Action::Forget => "31",
        };
        let id = c.id.as_deref().map(|i| format!(" (id {})", t(i))).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} {} {}{}",
            p.c(code, &format!("{:>3}", c.action.symbol())),
            p.c("1", &c.address.to_string()),
            t(&c.display_name),
            id
        );
        let _ = writeln!(out, "        {}: {}", c.action.as_str(), t(&c.reason));
        if let Some(why) = plan.sensitive.get(&c.address) {
            let _ = writeln!(out, "        {}", p.c("1;35", &format!("sensitive: {}", t(why))));
        }
        for (field, value) in crate::render::deleted_settings(c) {
            let _ = writeln!(out, "        {}", p.c(code, &format!("- {} = {value}", t(&field))));
        }
        for f in &c.fields {
            let line = match (&f.before, &f.after) {
                (None, Some(a)) => format!("+ {} = {}", t(&f.field), show_value(&f.field, a)),
                (Some(b), None) => format!("- {} = {}", t(&f.field), show_value(&f.field, b)),
                (Some(b), Some(a)) => {
                    format!("~ {}: {} -> {}", t(&f.field), show_value(&f.field, b), show_value(&f.field, a))
                }
                (None, None) => continue,
            };
            let _ = writeln!(out, "        {}", p.c(code, &line));
        }
        if !c.waits_on.is_empty() {
            let w: Vec<String> = c.waits_on.iter().map(|a| a.to_string()).collect();
            let _ = writeln!(out, "        waits on: {}", w.join(", "));
        }
        for n in &c.notes {
            let _ = writeln!(out, "        note: {}", t(n));
        }
    }
    if !plan.unknown.is_empty() {
        let _ = writeln!(out, "\n{}", p.c("1;35", "Unknown (could not be read; not counted as drift):"));
        for u in &plan.unknown {
            let _ = writeln!(out, "  ? {}: {}", u.address, t(&u.reason));
        }
    }
    if !plan.refused.is_empty() {
        let _ = writeln!(out, "\n{}", p.c("1;31", "Refused (not applied; the rest of the plan is):"));
        for r in &plan.refused {
            let _ = writeln!(out, "  ! {} [{}]: {}", r.address, t(&r.code), t(&r.reason));
        }
    }
    if !plan.orphans.is_empty() {
        let _ = writeln!(out, "\nKept, no longer declared:");
        for o in &plan.orphans {
            let _ = writeln!(out, "  . {} (id {}): {}", o.address, t(&o.id), t(&o.reason));
        }
    }
    if !plan.rollout.is_empty() {
        let _ = writeln!(out, "\nRollout (rings waiting):");
        for w in &plan.rollout {
            let _ = writeln!(out, "  > {} {}: {}", w.address, t(&w.ring), t(&w.reason));
        }
    }
    if !plan.lints.is_empty() {
        let _ = writeln!(out, "\n{}", p.c("1;33", "Governance lints:"));
        for f in &plan.lints {
            let _ = writeln!(out, "  ! {}", t(&f.to_string()));
        }
    }
    if let Some(c) = &plan.change {
        let _ = writeln!(out, "\nChange record:");
        // Free text from desired state or the PR description: escaped, so
        // a newline or a terminal escape cannot forge or hide plan lines.
        for l in c.lines() {
            let _ = writeln!(out, "  {}", t(&l));
        }
    }
    if let Some(why) = plan.governance.as_ref().and_then(|g| g.reason()) {
        let _ = writeln!(out, "\n{}", p.c("1;35", &format!("~ governance: sensitive: {why}")));
        for l in plan.governance.iter().flat_map(|g| g.field_lines()) {
            let _ = writeln!(out, "    {l}");
        }
    }
    // A change of [governance] needs approvals like a sensitive change.
    let governance_change = usize::from(plan.governance.as_ref().and_then(|g| g.reason()).is_some());
    if !plan.sensitive.is_empty() || governance_change > 0 || plan.author.is_some() || !plan.approvals.is_empty() {
        let _ = writeln!(out, "\nApprovals: {} sensitive change(s); plan {}", plan.sensitive.len() + governance_change, plan.hash());
        if let Some(a) = &plan.author {
            let _ = writeln!(out, "  author: {}", t(&a.public_key));
        }
        for (i, a) in plan.approvals.iter().enumerate() {
            let _ = writeln!(out, "  approval {}: {} ({})", i + 1, t(&a.approver), t(&a.public_key));
        }
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "\n{}", p.c("1;33", "Warnings:"));
        for w in &plan.warnings {
            let _ = writeln!(out, "  ! {}", t(w));
        }
    }
    out
}
