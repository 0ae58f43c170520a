//! What a write-ahead log the tenant's seal does not prove took away from
//! the sealed ledger is put back before the tenant is read (hostile run
//! 23, finding 16; the rule is [`engine::governance::undeclared::restore_unproven_removals`]):
//! an address it forgot, or gave another object id (gov22).

use engine::Ledger;

use crate::output;

/// Put back, and say so, the entries an unproven log forgot or gave
/// another id.
pub fn restore(ledger: &mut Ledger) {
    let back = engine::governance::undeclared::restore_unproven_removals(ledger);
    let forgot: Vec<String> = back.iter().filter(|(_, logged)| logged.is_none()).map(|(a, _)| a.to_string()).collect();
    if !forgot.is_empty() {
        output::status(format!(
            "warning: the ledger's write-ahead log forgets {} that the sealed ledger owns, and the tenant's seal does not prove that log: judged as the sealed ledger has {}",
            forgot.join(", "),
            if forgot.len() == 1 { "it" } else { "them" }
        ));
    }
    for (a, logged) in &back {
        if let (Some(logged), Some(sealed)) = (logged, ledger.id(a)) {
            output::status(format!("warning: {}", engine::governance::undeclared::reassigned_warning(a, sealed, logged)));
        }
    }
}
