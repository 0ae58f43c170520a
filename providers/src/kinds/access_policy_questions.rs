//! An assignment policy's requestor questions (`questions`, v1.0
//! `accessPackageTextInputQuestion` and
//! `accessPackageMultipleChoiceQuestion`) between TOML, props and Graph.
//! Props hold them in Graph's shape, in order, `sequence` from 1, so the
//! write body is the props and a live policy compares field by field. The
//! policy listing expands them (`$expand=questions`: a contained
//! navigation property, listed only when expanded).

use schema::kinds::access_package_questions::{AnswerChoice, LocalizedText, Question, MULTIPLE_CHOICE, TEXT_INPUT};
use serde_json::{json, Map, Value};

/// Translations in props (and Graph) form, by language code (lowercased)
/// so the order they are given in does not matter.
fn localized_props(list: &[LocalizedText]) -> Value {
    let mut v: Vec<&LocalizedText> = list.iter().collect();
    v.sort_by_key(|l| l.language_code.to_ascii_lowercase());
    Value::Array(v.into_iter().map(|l| json!({"languageCode": l.language_code, "text": l.text})).collect())
}

/// Live translations (`localizations`) in props form.
fn localized_live(raw: Option<&Value>) -> Value {
    let mut v: Vec<Value> = raw
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|l| json!({"languageCode": l.get("languageCode").cloned().unwrap_or(Value::Null), "text": l.get("text").cloned().unwrap_or(Value::Null)}))
        .collect();
    v.sort_by_key(|l| l["languageCode"].as_str().unwrap_or_default().to_ascii_lowercase());
    Value::Array(v)
}

/// Translations (props form) as TOML.
fn localized_toml(v: Option<&Value>) -> Vec<LocalizedText> {
    let s = |l: &Value, k: &str| l.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    v.and_then(Value::as_array).into_iter().flatten().map(|l| LocalizedText { language_code: s(l, "languageCode"), text: s(l, "text") }).collect()
}

/// Declared questions in props (and Graph) form.
pub fn props(qs: &[Question]) -> Value {
    Value::Array(
        qs.iter()
            .enumerate()
            .map(|(i, q)| {
                let mut m = Map::new();
                m.insert("@odata.type".into(), json!(if q.choices.is_empty() { TEXT_INPUT } else { MULTIPLE_CHOICE }));
                m.insert("sequence".into(), json!(i + 1));
                m.insert("text".into(), json!(q.text));
                m.insert("isRequired".into(), json!(q.is_required));
                m.insert("isAnswerEditable".into(), json!(q.is_answer_editable));
                m.insert("localizations".into(), localized_props(&q.localizations));
                if q.choices.is_empty() {
                    m.insert("isSingleLineQuestion".into(), json!(!q.multiline));
                    m.insert("regexPattern".into(), q.regex_pattern.as_ref().map_or(Value::Null, |r| json!(r)));
                } else {
                    m.insert("isMultipleSelectionAllowed".into(), json!(q.is_multiple_selection_allowed));
                    m.insert("choices".into(), Value::Array(q.choices.iter().map(|c| json!({"actualValue": c.value, "text": c.text, "localizations": localized_props(&c.localizations)})).collect()));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// Live questions (an expanded `questions`) in props form, by `sequence`.
pub fn normalize(raw: Option<&Value>) -> Value {
    let mut qs: Vec<&Value> = raw.and_then(Value::as_array).into_iter().flatten().collect();
    qs.sort_by_key(|q| q.get("sequence").and_then(Value::as_i64).unwrap_or(i64::MAX));
    let text = |q: &Value, k: &str| q.get(k).cloned().unwrap_or(Value::Null);
    let flag = |q: &Value, k: &str, d: bool| json!(q.get(k).and_then(Value::as_bool).unwrap_or(d));
    Value::Array(
        qs.iter()
            .enumerate()
            .map(|(i, q)| {
                let kind = q.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
                let mut m = Map::new();
                m.insert("@odata.type".into(), json!(kind));
                m.insert("sequence".into(), json!(i + 1));
                m.insert("text".into(), text(q, "text"));
                m.insert("isRequired".into(), flag(q, "isRequired", false));
                m.insert("isAnswerEditable".into(), flag(q, "isAnswerEditable", false));
                m.insert("localizations".into(), localized_live(q.get("localizations")));
                if kind == MULTIPLE_CHOICE {
                    m.insert("isMultipleSelectionAllowed".into(), flag(q, "isMultipleSelectionAllowed", false));
                    let choices = q.get("choices").and_then(Value::as_array).into_iter().flatten().map(|c| json!({"actualValue": text(c, "actualValue"), "text": text(c, "text"), "localizations": localized_live(c.get("localizations"))})).collect();
                    m.insert("choices".into(), Value::Array(choices));
                } else {
                    m.insert("isSingleLineQuestion".into(), flag(q, "isSingleLineQuestion", true));
                    m.insert("regexPattern".into(), text(q, "regexPattern"));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// Live questions (props form) as TOML: None when there are none.
pub fn toml(v: Option<&Value>) -> Result<Option<Vec<Question>>, String> {
    let list = v.and_then(Value::as_array).filter(|l| !l.is_empty());
    let Some(list) = list else { return Ok(None) };
    let s = |q: &Value, k: &str| q.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let b = |q: &Value, k: &str| q.get(k).and_then(Value::as_bool).unwrap_or(false);
    list.iter()
        .map(|q| {
            let kind = s(q, "@odata.type");
            let choices: Vec<AnswerChoice> = q.get("choices").and_then(Value::as_array).into_iter().flatten().map(|c| AnswerChoice { value: s(c, "actualValue"), text: s(c, "text"), localizations: localized_toml(c.get("localizations")) }).collect();
            match kind.as_str() {
                MULTIPLE_CHOICE if choices.is_empty() => Err("a multiple choice question with no choices is not modelled".to_string()),
                MULTIPLE_CHOICE | TEXT_INPUT => Ok(Question {
                    text: s(q, "text"),
                    is_required: b(q, "isRequired"),
                    is_answer_editable: b(q, "isAnswerEditable"),
                    is_multiple_selection_allowed: kind == MULTIPLE_CHOICE && b(q, "isMultipleSelectionAllowed"),
                    multiline: kind == TEXT_INPUT && q.get("isSingleLineQuestion").and_then(Value::as_bool) == Some(false),
                    regex_pattern: q.get("regexPattern").and_then(Value::as_str).filter(|r| !r.is_empty() && kind == TEXT_INPUT).map(str::to_string),
                    localizations: localized_toml(q.get("localizations")),
                    choices,
                }),
                other => Err(format!("a question of type `{other}` is not modelled")),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_questions_compare_equal_to_their_live_form_and_export_back() {
        let qs = vec![
            Question { text: "Why?".into(), is_required: true, is_answer_editable: false, choices: Vec::new(), is_multiple_selection_allowed: false, multiline: true, regex_pattern: None, localizations: vec![LocalizedText { language_code: "fr-fr".into(), text: "Pourquoi ?".into() }, LocalizedText { language_code: "de".into(), text: "Warum?".into() }] },
            Question { text: "Which office?".into(), is_required: false, is_answer_editable: true, choices: vec![AnswerChoice { value: "be".into(), text: "Brussels".into(), localizations: vec![LocalizedText { language_code: "nl".into(), text: "Brussel".into() }] }], is_multiple_selection_allowed: true, multiline: false, regex_pattern: None, localizations: Vec::new() },
        ];
        let p = props(&qs);
        let mut live = p.clone();
        // Graph adds ids and localizations, and lists them in any order.
        if let Some(a) = live.as_array_mut() {
            a.reverse();
            for q in a.iter_mut() {
                q["id"] = json!("x");
                if let Some(l) = q["localizations"].as_array_mut() {
                    l.reverse();
                }
            }
        }
        let n = normalize(Some(&live));
        assert!(crate::kinds::access_policy_props::normalize_policy(&json!({"questions": live}))["questions"] == n);
        assert_eq!(n, p);
        // Exported sorted by language code (the order is not Graph's concern).
        let mut sorted = qs.clone();
        sorted[0].localizations.reverse();
        assert_eq!(toml(Some(&n)).expect("exports"), Some(sorted));
        assert_eq!(toml(Some(&json!([]))).expect("none"), None);
    }
}
