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
        }
    };
}

crate::with_kinds!(kind_facts);
