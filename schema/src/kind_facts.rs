//! Facts each kind declares about itself in its own module
//! (`schema/src/kinds/<kind>.rs`), gathered here through the registry
//! ([`crate::with_kinds!`]) so the layers that need them ask the kind
//! instead of keeping a per-kind list: a registered kind whose module does
//! not declare them does not compile.

use crate::address::Kind;

/// Whether a kind's changes need approval whatever they change
/// (`engine::governance::sensitivity` asks the kind; deletes, replaces and
/// the other rules apply on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    /// Only the other rules (service accounts, protected objects, admin
    /// reach, licences, `governance.sensitive_kinds` ...) make a change
    /// sensitive.
    ByRules,
    /// Every change of the kind needs approval, for this reason.
    Always(&'static str),
    /// A create needs approval for the first reason, any other change for
    /// the second.
    CreateOr(&'static str, &'static str),
}

impl Sensitivity {
    /// The reason a change of the kind needs approval, if the kind says so.
    pub fn reason(self, create: bool) -> Option<&'static str> {
        match self {
            Self::ByRules => None,
            Self::Always(why) => Some(why),
            Self::CreateOr(created, _) if create => Some(created),
            Self::CreateOr(_, changed) => Some(changed),
        }
    }
}

/// What a kind's objects have to do with access, for governance
/// (`engine::governance::removes_access` and `undeclared::access_end` ask
/// the kind through `Kind::access`): a change that only removes access is
/// applied without approval and unattended by `reconcile --self-heal`, and
/// access the ledger owns that desired state no longer declares is ended
/// whatever `governance.prune.kinds` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Its objects grant no access by themselves: their changes are judged
    /// by the other rules only.
    None,
    /// Each object is one grant of access (an assignment), called `noun` in
    /// the reasons governance gives. Deleting it only removes access (said
    /// "ends the expired `noun`" when `says_expired` and its declaration has
    /// an `expires`); with `shortens`, an update that only brings `expires`
    /// earlier only removes access too. One the ledger owns that desired
    /// state no longer declares is deleted.
    Grant { noun: &'static str, says_expired: bool, shortens: bool },
    /// A principal whose access has an end (`expires`; a guest, called
    /// `noun`): deleting it past that end, blocking its sign-in, or
    /// bringing the end earlier only removes access; one no longer declared
    /// whose recorded end has passed is disabled or deleted
    /// (`governance.guest_expiry_action`).
    Expiring { noun: &'static str },
}

macro_rules! kind_facts {
    ($($variant:ident $field:ident $ty:ident $principal:literal $policy:literal;)*) => {
        impl Kind {
            /// The kind's default sensitivity, as its module declares it
            /// (`SENSITIVITY`).
            pub fn sensitivity(self) -> Sensitivity {
                match self {
                    $(Kind::$variant => crate::kinds::$field::SENSITIVITY,)*
                }
            }

            /// The Graph collections the kind manages, as its module
            /// declares them (`COLLECTIONS`; its provider writes the
            /// first): a `graph_object` in any of them is refused.
            pub fn collections(self) -> &'static [&'static str] {
                match self {
                    $(Kind::$variant => crate::kinds::$field::COLLECTIONS,)*
                }
            }

            /// What the kind's objects have to do with access, as its module
            /// declares it (`ACCESS`).
            pub fn access(self) -> Access {
                match self {
                    $(Kind::$variant => crate::kinds::$field::ACCESS,)*
                }
            }
        }
    };
}

crate::with_kinds!(kind_facts);
