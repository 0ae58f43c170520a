//! A custom authentication strength named like a built-in one (hostile run
//! 26, finding 7). Validation refuses a custom strength whose name IS a
//! built-in strength's, without case (`built-in-strength-name`); a name
//! with a non-breaking hyphen (U+2011), a zero-width space or a Greek `Μ`
//! passed, and the portal's conditional access editor, sign-in logs and
//! exports then show it as the built-in "Phishing-resistant MFA" while it
//! accepts password and SMS. Here names are compared as
//! `super::role_names` compares role names: by Unicode confusable skeleton
//! (UTS #39), blanks and invisible characters evened out, without case.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schema::kinds::conditional_access_rules::BUILT_IN_STRENGTHS;
use schema::{Address, Kind};

use super::lints::{Finding, Severity};
use super::role_names::skeletons;
use crate::model::{DesiredModel, DesiredResource};

/// The lint's name (validation's, for the exact name).
pub const LINT: &str = "built-in-strength-name";

/// Built-in strength names by skeleton.
fn built_ins() -> &'static BTreeMap<String, &'static str> {
    static CACHE: OnceLock<BTreeMap<String, &'static str>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let mut m = BTreeMap::new();
        for (n, _) in BUILT_IN_STRENGTHS {
            for k in skeletons(n) {
                m.entry(k).or_insert(*n);
            }
        }
        m
    })
}

/// The built-in strength a custom one named `name` reads like without
/// being it (any case: that is validation's check), if any.
fn reads_like(name: &str) -> Option<&'static str> {
    let found = skeletons(name).iter().find_map(|k| built_ins().get(k).copied());
    found.filter(|n| !n.eq_ignore_ascii_case(name.trim()))
}

/// The finding of a custom strength whose name reads like a built-in one.
pub fn lints(_desired: &DesiredModel, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    if address.kind != Kind::AuthenticationStrength {
        return Vec::new();
    }
    let Some(name) = reads_like(&r.display_name) else { return Vec::new() };
    let odd: Vec<String> = r.display_name.chars().filter(|c| !c.is_ascii()).map(|c| format!("U+{:04X}", c as u32)).collect();
    let how = if odd.is_empty() { "it differs only in spacing or letters that look alike".to_string() } else { format!("Unicode confusables or invisible characters: it holds {}", odd.join(" ")) };
    vec![Finding {
        severity: Severity::Error,
        lint: LINT.into(),
        address: address.to_string(),
        message: format!(
            "`{}` reads like the built-in authentication strength `{name}` ({how}) but is a custom one: the portal's conditional access editor, sign-in logs and exports would show it as the built-in strength; name a custom strength differently",
            r.display_name
        ),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusables_of_built_in_strengths_are_found() {
        assert_eq!(reads_like("Phishing\u{2011}resistant MFA"), Some("Phishing-resistant MFA"));
        assert_eq!(reads_like("Phishing-resistant MFA\u{200B}"), Some("Phishing-resistant MFA"));
        assert_eq!(reads_like("Phishing-resistant \u{039C}FA"), Some("Phishing-resistant MFA"));
        assert_eq!(reads_like("Phishing-resistant MFA"), None, "the exact name is validation's");
        assert_eq!(reads_like("phishing-resistant mfa"), None, "so is any case of it");
        assert_eq!(reads_like("Contoso admins strength"), None);
    }
}
