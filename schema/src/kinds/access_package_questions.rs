//! Questions a requestor answers when requesting an access package
//! through a policy (Graph v1.0 `accessPackageAssignmentPolicy.questions`:
//! `accessPackageTextInputQuestion` and
//! `accessPackageMultipleChoiceQuestion`). Declared in order (their
//! `sequence`); absent, a policy's questions are not managed (and a policy
//! the tenant gave questions is not rewritten over them).

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::path;
use crate::validate::Ctx;

/// One question of a policy: free text, or a choice among `choices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The question shown to the requestor.
    pub text: String,
    /// Whether the requestor must answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_required: bool,
    /// Whether the requestor may change the answer later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_answer_editable: bool,
    /// The answers offered (a multiple choice question); absent: the
    /// requestor types the answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<AnswerChoice>,
    /// With `choices`: whether several may be chosen.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_multiple_selection_allowed: bool,
    /// Free text on several lines (`isSingleLineQuestion` false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiline: bool,
    /// Free text: the pattern an answer must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex_pattern: Option<String>,
    /// The question in other languages (`localizations`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub localizations: Vec<LocalizedText>,
}

/// An `accessPackageAnswerChoice`: what is recorded, and what is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerChoice {
    /// The answer recorded (`actualValue`).
    pub value: String,
    /// The answer shown to the requestor.
    pub text: String,
    /// The shown answer in other languages (`localizations`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub localizations: Vec<LocalizedText>,
}

/// An `accessPackageLocalizedText`: a text in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalizedText {
    /// The language (`languageCode`): an ISO 639-1 language, optionally
    /// with an ISO 3166-1 alpha-2 country (`fr`, `en-us`).
    pub language_code: String,
    pub text: String,
}

/// Whether `code` is an ISO 639-1 language, optionally with an ISO
/// 3166-1 country (`super::access_package_language`).
pub use super::access_package_language::is_language_code;

pub const TEXT_INPUT: &str = "#microsoft.graph.accessPackageTextInputQuestion";
pub const MULTIPLE_CHOICE: &str = "#microsoft.graph.accessPackageMultipleChoiceQuestion";

/// Every declared policy's questions: a text, distinct choices, and no
/// free-text setting on a multiple choice question (or the reverse).
pub(crate) fn validate(cx: &mut Ctx) {
    let mut found = Vec::new();
    for (key, d) in &cx.state.access_package {
        for (pk, pol) in &d.value.policies {
            if let Some(qs) = &pol.questions {
                found.push((key.to_string(), pk.to_string(), qs.clone(), d.origin.clone()));
            }
        }
    }
    for (key, pk, qs, o) in found {
        let name = format!("access_package.{key}.policies.{pk}");
        for (i, q) in qs.iter().enumerate() {
            let at = |f: &str| path!["access_package", key.as_str(), "policies", pk.as_str(), "questions", i, f];
            let base = path!["access_package", key.as_str(), "policies", pk.as_str(), "questions", i].to_vec();
            localizations(cx, &o, &base, &q.localizations, &format!("{name}: question {}", i + 1));
            for (j, c) in q.choices.iter().enumerate() {
                let mut at = base.clone();
                at.extend(path!["choices", j]);
                localizations(cx, &o, &at, &c.localizations, &format!("{name}: question {} choice {}", i + 1, j + 1));
            }
            if q.text.trim().is_empty() {
                cx.error("bad-value", &o, &at("text"), format!("{name}: question {} has no text", i + 1));
            }
            if q.choices.is_empty() {
                if q.is_multiple_selection_allowed {
                    cx.error("bad-value", &o, &at("is_multiple_selection_allowed"), format!("{name}: question {} allows several choices but offers none (add choices, or remove is_multiple_selection_allowed)", i + 1));
                }
                if q.regex_pattern.as_deref().is_some_and(|r| r.is_empty()) {
                    cx.error("bad-value", &o, &at("regex_pattern"), format!("{name}: question {} has an empty regex_pattern", i + 1));
                }
                continue;
            }
            for (f, set) in [("multiline", q.multiline), ("regex_pattern", q.regex_pattern.is_some())] {
                if set {
                    cx.error("bad-value", &o, &at(f), format!("{name}: question {} offers choices, so {f} (a free-text setting) does not apply", i + 1));
                }
            }
            let mut seen = BTreeSet::new();
            for (j, c) in q.choices.iter().enumerate() {
                if c.value.trim().is_empty() || c.text.trim().is_empty() {
                    cx.error("bad-value", &o, &path!["access_package", key.as_str(), "policies", pk.as_str(), "questions", i, "choices", j], format!("{name}: question {} choice {} needs a value and a text", i + 1, j + 1));
                } else if !seen.insert(c.value.as_str()) {
                    cx.error("duplicate", &o, &path!["access_package", key.as_str(), "policies", pk.as_str(), "questions", i, "choices", j, "value"], format!("{name}: question {} offers the value `{}` twice", i + 1, c.value));
                }
            }
        }
    }
}

/// A text's translations: each language code of the documented form, a
/// text, and each language once (case-insensitively).
fn localizations(cx: &mut Ctx, o: &crate::diagnostic::Origin, at: &[crate::source::Seg], list: &[LocalizedText], what: &str) {
    let mut seen = BTreeSet::new();
    for (k, l) in list.iter().enumerate() {
        let mut here = at.to_vec();
        here.extend(path!["localizations", k]);
        if !is_language_code(&l.language_code) {
            let mut p = here.clone();
            p.extend(path!["language_code"]);
            cx.error("bad-value", o, &p, format!("{what}: `{}` is not a language code (two letters of ISO 639-1, optionally `-` and a two-letter ISO 3166-1 country: `fr`, `en-us`)", l.language_code));
        } else if !seen.insert(l.language_code.to_ascii_lowercase()) {
            let mut p = here.clone();
            p.extend(path!["language_code"]);
            cx.error("duplicate", o, &p, format!("{what}: language `{}` is given twice", l.language_code));
        }
        if l.text.trim().is_empty() {
            let mut p = here;
            p.extend(path!["text"]);
            cx.error("bad-value", o, &p, format!("{what}: the `{}` text is empty", l.language_code));
        }
    }
}
