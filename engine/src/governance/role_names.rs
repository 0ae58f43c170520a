//! A custom role named like a built-in one (hostile run 20, finding 12).
//! Validation refuses a custom directory or Intune role whose name IS a
//! built-in role's (`built-in-role-name`); a homoglyph ("Helpdesk
//! Administrаtor" with a Cyrillic `а`) passed, and Entra then shows the
//! custom role as "Helpdesk Administrator" in sign-in logs, role lists and
//! access reviews while it can do what its actions say. Here names are
//! compared by Unicode confusable skeleton (UTS #39, as
//! `crate::lookalike` compares other names), without case: a name that
//! reads like a built-in directory role's (or, for an Intune role, a
//! built-in Intune role's) but is not the same text is the same error.
//! Only names holding a character outside ASCII are compared (ASCII
//! look-alikes such as `rn` and `m` are everyday names).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schema::{Address, Kind};

use super::lints::{Finding, Severity};
use crate::model::{DesiredModel, DesiredResource};

/// The lint's name (validation's, for the exact name).
pub const LINT: &str = "built-in-role-name";

fn skeleton(s: &str) -> String {
    // Case and runs of spaces do not show either (hostile run 22,
    // finding 6): `helpdesk administrator`, `Helpdesk  Administrator`.
    let s: String = unicode_security::skeleton(&unblank(s)).collect::<String>().to_lowercase();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` with the characters that render as a blank but are no whitespace
/// to Unicode (the Hangul fillers, the blank Braille pattern) made spaces,
/// and the invisible ones (zero-width spaces and joiners, the word joiner,
/// the byte order mark, the soft hyphen) taken out: "Global<U+3164>
/// Administrator" reads as the built-in name (hostile run 24, finding 9).
fn unblank(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\u{3164}' | '\u{FFA0}' | '\u{115F}' | '\u{1160}' | '\u{2800}' => Some(' '),
            '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' => None,
            c => Some(c),
        })
        .collect()
}

/// The skeletons `s` is compared under: as written, lower-cased and
/// upper-cased. The confusables table maps a capital `I` to `l` but leaves
/// a small `i` alone, so one skeleton alone misses `HELPDESK
/// ADMINISTRATOR` or `Helpdesk AdmInistrator` (hostile run 23, finding 5)
/// when taken as written, and `HeIpdesk` (a capital I for the l) when
/// taken lower-cased.
pub(crate) fn skeletons(s: &str) -> [String; 3] {
    [skeleton(s), skeleton(&s.to_lowercase()), skeleton(&s.to_uppercase())]
}

/// Built-in role names by skeleton.
type BySkeleton = BTreeMap<String, &'static str>;

fn by_skeleton<'a>(names: impl Iterator<Item = &'a &'static str>) -> BySkeleton {
    let mut m = BySkeleton::new();
    for n in names {
        for k in skeletons(n) {
            m.entry(k).or_insert(n);
        }
    }
    m
}

/// Built-in names by skeleton: directory roles, then Intune roles.
fn built_ins() -> &'static (BySkeleton, BySkeleton) {
    static CACHE: OnceLock<(BySkeleton, BySkeleton)> = OnceLock::new();
    CACHE.get_or_init(|| {
        let directory = by_skeleton(schema::kinds::role_assignment::BUILT_IN_ROLES.iter().map(|(n, _)| n));
        let intune = by_skeleton(schema::kinds::intune_role_definition::BUILT_IN_ROLES.iter());
        (directory, intune)
    })
}

/// The built-in role (name, role space) a custom role of `kind` named
/// `name` reads like without being it, if any.
fn reads_like(kind: Kind, name: &str) -> Option<(&'static str, &'static str)> {
    let (directory, intune) = built_ins();
    let keys = skeletons(name);
    let find = |m: &BySkeleton| keys.iter().find_map(|k| m.get(k).copied());
    let found = find(directory).map(|n| (n, "directory")).or_else(|| if kind == Kind::IntuneRoleDefinition { find(intune).map(|n| (n, "Intune")) } else { None });
    // The exact name is validation's check.
    found.filter(|(n, _)| *n != name)
}

/// How `name` differs from the built-in `built_in` it reads like.
fn how(name: &str, built_in: &str) -> String {
    let odd: Vec<String> = name.chars().filter(|c| !c.is_ascii()).map(|c| format!("U+{:04X}", c as u32)).collect();
    let plain = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    if !odd.is_empty() {
        format!("Unicode confusables: it holds {}", odd.join(" "))
    } else if plain(name) == plain(built_in) {
        "it differs only in case or spacing".to_string()
    } else {
        "it swaps letters that look alike (such as I and l)".to_string()
    }
}

/// The finding of a custom role whose name reads like a built-in role's.
pub fn lints(_desired: &DesiredModel, address: &Address, r: &DesiredResource) -> Vec<Finding> {
    if !matches!(address.kind, Kind::RoleDefinition | Kind::IntuneRoleDefinition) {
        return Vec::new();
    }
    let Some((name, space)) = reads_like(address.kind, &r.display_name) else { return Vec::new() };
    let how = how(&r.display_name, name);
    vec![Finding {
        severity: Severity::Error,
        lint: LINT.into(),
        address: address.to_string(),
        message: format!(
            "`{}` reads like the built-in {space} role `{name}` ({how}) but is another role: Entra would show it as that role in sign-in logs, role lists and access reviews; name a custom role differently",
            r.display_name
        ),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homoglyphs_of_built_in_names_are_found() {
        assert_eq!(reads_like(Kind::RoleDefinition, "Helpdesk Administr\u{0430}tor"), Some(("Helpdesk Administrator", "directory")));
        assert_eq!(reads_like(Kind::IntuneRoleDefinition, "Help Desk Operat\u{043E}r"), Some(("Help Desk Operator", "Intune")));
        assert_eq!(reads_like(Kind::RoleDefinition, "Help Desk Operat\u{043E}r"), None, "an Intune name on a directory role is validation's other check");
        assert_eq!(reads_like(Kind::RoleDefinition, "Helpdesk Administrator"), None, "the exact name is validation's");
        assert_eq!(reads_like(Kind::RoleDefinition, "\u{00C9}quipe support"), None);
        assert_eq!(reads_like(Kind::RoleDefinition, "helpdesk administrator"), Some(("Helpdesk Administrator", "directory")), "case only");
        assert_eq!(reads_like(Kind::RoleDefinition, "Helpdesk  Administrator"), Some(("Helpdesk Administrator", "directory")), "a double space");
        assert_eq!(reads_like(Kind::RoleDefinition, "Helpdesk Administrator (EU)"), None);
        // Hostile run 23, finding 5: capitals, whose I the confusables
        // table reads as l.
        for n in ["HELPDESK ADMINISTRATOR", "Helpdesk AdmInistrator", "HeIpdesk Administrator", "hELPDESK aDMINISTRATOR"] {
            assert_eq!(reads_like(Kind::RoleDefinition, n), Some(("Helpdesk Administrator", "directory")), "{n}");
        }
        assert_eq!(reads_like(Kind::RoleDefinition, "GLOBAL ADMINISTRATOR"), Some(("Global Administrator", "directory")));
        assert_eq!(how("HELPDESK ADMINISTRATOR", "Helpdesk Administrator"), "it differs only in case or spacing");
        assert_eq!(how("HeIpdesk Administrator", "Helpdesk Administrator"), "it swaps letters that look alike (such as I and l)");
        assert_eq!(reads_like(Kind::RoleDefinition, "HELPDESK ADMINISTRATORS"), None);
        // Hostile run 24, finding 9: blanks that are no whitespace.
        for blank in ['\u{3164}', '\u{FFA0}', '\u{115F}', '\u{2800}'] {
            assert_eq!(reads_like(Kind::RoleDefinition, &format!("Global{blank}Administrator")), Some(("Global Administrator", "directory")), "U+{:04X}", blank as u32);
        }
        assert_eq!(reads_like(Kind::RoleDefinition, "Global\u{200B}Administrator"), None, "no space at all is another name");
        assert_eq!(reads_like(Kind::RoleDefinition, "Global \u{200B}Administrator"), Some(("Global Administrator", "directory")));
    }
}
