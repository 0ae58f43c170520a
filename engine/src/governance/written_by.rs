//! The person who wrote a change, apart from the key that signed the plan
//! (hostile run 14, finding 20). In CI one key signs every plan as its
//! author; the person who wrote the pull request is then named with
//! `plan --author-name NAME` (the CI templates pass the pull request's
//! author). NAME must be a key of `[governance.authors]` or
//! `[governance.approvers]` in force; it is part of the plan's signed hash
//! (`Plan::written_by`), shown to approvers, journalled as the author, and
//! an approval by that person's key is refused: nobody approves their own
//! change, whoever's key signed it.

use schema::kinds::Governance;

/// The listed person `name` names (a key of `[governance.authors]` or
/// `[governance.approvers]`, case-insensitively, as CI spells logins), as
/// that key.
pub fn listed<'g>(gov: &'g Governance, name: &str) -> Option<&'g str> {
    let name = name.trim();
    gov.authors.keys().chain(gov.approvers.keys()).find(|k| k.eq_ignore_ascii_case(name)).map(String::as_str)
}

/// Why `name` cannot be a plan's writer under `gov`, or `None`.
pub fn problem(gov: &Governance, name: &str) -> Option<String> {
    if listed(gov, name).is_some() {
        return None;
    }
    let mut known: Vec<&str> = gov.authors.keys().chain(gov.approvers.keys()).map(String::as_str).collect();
    known.sort_unstable();
    known.dedup();
    Some(format!(
        "the change's author `{}` is not listed in [governance.authors] or [governance.approvers] in force ({}): the person who wrote a change must be a known person",
        name.escape_debug(),
        if known.is_empty() { "none listed".to_string() } else { known.join(", ") }
    ))
}

/// Whether `public_key` is a key of the writer `name` (as an author or an
/// approver).
pub fn is_writers_key(gov: &Governance, name: &str, public_key: &str) -> bool {
    let Some(key) = listed(gov, name) else { return false };
    gov.authors.get(key).into_iter().chain(gov.approvers.get(key)).any(|a| super::signatures::same_key(&a.public_key, public_key))
}
