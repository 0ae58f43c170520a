//! Stage 1 check of `[change]` (the change record copied into every plan,
//! shown to approvers and written to the journal): each field is bounded,
//! so a 10 MB ticket is a located error, not a 10 MB plan and journal line.
//! Graph never sees these strings, so the caps are tenantctl's: a summary
//! and a ticket are a line, scope and timeline a few paragraphs.

use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::source::{Seg, SourceFile};
use crate::state::DesiredState;

/// The most characters of `[change]`'s `summary` (also `plan --change`).
pub const MAX_SUMMARY: usize = 500;
/// The most characters of a ticket reference.
pub const MAX_TICKET: usize = 128;
/// The most characters of `scope` and of `timeline`.
pub const MAX_TEXT: usize = crate::limits::UNDOCUMENTED_TEXT;

/// The cap of each `[change]` field.
pub fn max_len(field: &str) -> usize {
    match field {
        "summary" => MAX_SUMMARY,
        "ticket" => MAX_TICKET,
        _ => MAX_TEXT,
    }
}

/// Why `text` cannot be `[change]`'s `field`, if it cannot.
pub fn problem(field: &str, text: &str) -> Option<String> {
    let max = max_len(field);
    if text.len() > max {
        let len = text.chars().count();
        if len > max {
            return Some(format!("change.{field} is {len} characters long; at most {max} are allowed"));
        }
    }
    None
}

/// Check every `[change]` field's length, located at the field.
pub fn check(state: &DesiredState, sources: &[SourceFile], diags: &mut Diagnostics) {
    let Some(change) = &state.change else { return };
    let r = &change.value;
    for (field, value) in [("summary", &r.summary), ("ticket", &r.ticket), ("scope", &r.scope), ("timeline", &r.timeline)] {
        let Some(text) = value else { continue };
        let Some(message) = problem(field, text) else { continue };
        let path = [Seg::from("change"), Seg::from(field)];
        let loc = sources
            .iter()
            .find(|s| s.holds(&change.origin))
            .map(|s| s.locate(&path))
            .unwrap_or_else(|| Location::file(&change.origin.file));
        diags.push(
            Diagnostic::error("too-long", message)
                .at(Some(loc))
                .with_help(format!("shorten {field} to {} characters or fewer; link to the ticket for the details", max_len(field))),
        );
    }
}
