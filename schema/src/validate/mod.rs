//! Stage 1 checks on a merged `DesiredState`: references, kinds, cycles,
//! natural-key clashes and Graph's documented constraints. Each check is a
//! named function that adds diagnostics; all run, so every problem is
//! reported at once.
//!
//! A kind's own checks live beside its type (`crate::kinds::<kind>`, a
//! `validate` function each) and run through the kind registry; the
//! checks that span kinds are the modules below.

mod cycles;
mod expiry;
mod governance;
mod managed_desktop;
mod names;
mod natural_keys;
pub(crate) mod policy;
mod rollouts;
mod tenant;
mod role_entries;

pub use names::{
    domain_problem, email_problem, is_guid, mail_nickname_problem, upn_problem,
    user_mail_nickname_problem,
};
pub use expiry::MAX_EXPIRY_DAYS;
pub use crate::kinds::autopilot_profile::device_name_template_problem;
pub use crate::kinds::conditional_access::{CLIENT_APP_TYPES, SPECIAL_APPLICATIONS};
pub use crate::kinds::group::membership_rule_problem;

use chrono::{DateTime, Utc};

use crate::address::{Address, Kind};
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Origin};
use crate::load::path_text;
use crate::source::{Seg, SourceFile};
use crate::state::{DesiredState, ResolveError};

/// Finds locations of paths across all loaded files.
pub(crate) struct Ctx<'a> {
    /// The time expiries are judged against.
    pub(crate) now: DateTime<Utc>,
    pub(crate) state: &'a DesiredState,
    pub(crate) sources: &'a [SourceFile],
    pub(crate) diags: &'a mut Diagnostics,
    /// "Did you mean" searches made for unknown references (each looks at
    /// every key, so only the first few problems get one).
    pub(crate) suggestions: usize,
}

impl Ctx<'_> {
    /// Location of `path` in the file that declares its first two segments.
    pub(crate) fn locate(&self, origin: &Origin, path: &[Seg]) -> Location {
        self.sources
            .iter()
            .find(|s| s.holds(origin))
            .map(|s| s.locate(path))
            .unwrap_or_else(|| Location::file(&origin.file))
    }

    pub(crate) fn error(
        &mut self,
        code: &'static str,
        origin: &Origin,
        path: &[Seg],
        message: String,
    ) -> &mut Diagnostic {
        let loc = self.locate(origin, path);
        self.diags
            .push(Diagnostic::error(code, message).at(Some(loc)));
        self.diags.0.last_mut().expect("just pushed")
    }

    pub(crate) fn warning(&mut self, code: &'static str, origin: &Origin, path: &[Seg], message: String) {
        let loc = self.locate(origin, path);
        self.diags
            .push(Diagnostic::warning(code, message).at(Some(loc)));
    }

    /// Resolve a reference and report why it does not, at its location.
    pub(crate) fn reference(
        &mut self,
        origin: &Origin,
        path: &[Seg],
        reference: &str,
        allowed: &[Kind],
    ) -> Option<Address> {
        let resolved = match self.state.resolve(reference, allowed) {
            Err(ResolveError::Undeclared {
                reference,
                suggestion,
            }) => {
                match broken_match(self.state, &reference, allowed) {
                    // Declared but unparsable, of a kind that fits: its own
                    // error says everything.
                    Some(found) if allowed.contains(&found.kind) => return None,
                    Some(found) => Err(ResolveError::WrongKind {
                        reference,
                        found,
                        expected: allowed.to_vec(),
                    }),
                    None => Err(ResolveError::Undeclared {
                        reference,
                        suggestion,
                    }),
                }
            }
            other => other,
        };
        match resolved {
            Ok(a) => Some(a),
            Err(e) => {
                let field = path_text(path);
                let expected = allowed
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ");
                let (code, message, help) = match e {
                    ResolveError::Undeclared { reference, suggestion } => (
                        "unknown-reference",
                        format!("{field} refers to `{reference}`, but no {expected} has that key"),
                        suggestion.or_else(|| crate::suggest::bounded(&mut self.suggestions, || self.state.suggest_key(&reference, allowed))).map(|s| format!("did you mean `{s}`?")),
                    ),
                    ResolveError::WrongKind { reference, found, .. } => (
                        "wrong-kind-reference",
                        format!("{field} refers to `{reference}`, which is {found}; expected a {expected}"),
                        None,
                    ),
                    ResolveError::Ambiguous { reference, candidates } => (
                        "ambiguous-reference",
                        format!(
                            "{field} refers to `{reference}`, which could be {}",
                            candidates.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" or ")
                        ),
                        Some("write the full address, e.g. `user.KEY`".to_string()),
                    ),
                };
                let d = self.error(code, origin, path, message);
                if let Some(h) = help {
                    d.help = Some(h);
                }
                None
            }
        }
    }
}

/// A resource that was declared but failed to parse and that `reference`
/// names: an allowed kind first, so a fitting broken resource is preferred.
fn broken_match(state: &DesiredState, reference: &str, allowed: &[Kind]) -> Option<Address> {
    if let Ok(address) = reference.parse::<Address>() {
        if state.broken.contains(&address) {
            return Some(address);
        }
    }
    let mut kinds: Vec<Kind> = allowed.to_vec();
    kinds.extend(Kind::ALL.into_iter().filter(|k| !allowed.contains(k)));
    kinds
        .into_iter()
        .map(|k| Address::new(k, reference))
        .find(|a| state.broken.contains(a))
}

/// Run every check, adding problems to `diags`.
pub fn validate(state: &DesiredState, sources: &[SourceFile], diags: &mut Diagnostics) {
    validate_at(crate::clock::now(), state, sources, diags);
}

/// [`validate`] as of `now`, so expiry checks are reproducible in tests.
pub fn validate_at(
    now: DateTime<Utc>,
    state: &DesiredState,
    sources: &[SourceFile],
    diags: &mut Diagnostics,
) {
    let mut cx = Ctx {
        now,
        state,
        sources,
        diags,
        suggestions: 0,
    };
    tenant::check_tenant(&mut cx);
    tenant::check_state_backend(&mut cx);
    check_kinds(&mut cx);
    expiry::check_expiry_horizon(&mut cx);
    rollouts::check_rollouts(&mut cx);
    governance::check_governance(&mut cx);
    governance::check_service_roles(&mut cx);
    managed_desktop::check_managed_desktop(&mut cx);
    governance::check_approver_keys(&mut cx);
    natural_keys::check_natural_keys(&mut cx);
    cycles::check_cycles(&mut cx);
    crate::graph_types::check(cx.state, cx.sources, cx.diags);
}

macro_rules! kind_checks {
    ($($variant:ident $field:ident $ty:ident $principal:literal $policy:literal;)*) => {
        /// Each kind's own checks, in registry order.
        fn check_kinds(cx: &mut Ctx) {
            $(crate::kinds::$field::validate(cx);)*
        }
    };
}

crate::with_kinds!(kind_checks);
