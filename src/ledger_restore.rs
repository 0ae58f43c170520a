//! What a write-ahead log the tenant's seal does not prove took away from
//! the sealed ledger is put back before the tenant is read (hostile run
//! 23, finding 16; the rule is [`engine::governance::undeclared::restore_unproven_removals`]).

use engine::Ledger;

use crate::output;

/// Put back, and say so, the entries an unproven log forgot.
pub fn restore(ledger: &mut Ledger) {
    let back = engine::governance::undeclared::restore_unproven_removals(ledger);
    if back.is_empty() {
        return;
    }
    let list: Vec<String> = back.iter().map(|a| a.to_string()).collect();
    output::status(format!(
        "warning: the ledger's write-ahead log forgets {} that the sealed ledger owns, and the tenant's seal does not prove that log: judged as the sealed ledger has {}",
        list.join(", "),
        if back.len() == 1 { "it" } else { "them" }
    ));
}
