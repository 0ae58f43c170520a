//! Secret values tenantctl sends (a client secret, an initial password, a
//! Settings Catalog secret from its `secret_env` variable) are registered
//! here when they are put on the wire, and every Graph error body is
//! scrubbed of them where it becomes a [`super::GraphError`]
//! ([`super::error::error_from_response`], the one place every response,
//! batched or not, is turned into an error). Graph's error texts are not
//! always careful: one that echoes a rejected value would otherwise carry a
//! secret to the terminal, the journal and the logs.
//!
//! The set is process-wide (an error may be built far from the code that
//! sent the value) and only ever grows by what this process sent; a value
//! shorter than [`MIN_LEN`] is not registered, since scrubbing it would
//! mangle ordinary words while hiding nothing worth hiding.

use std::collections::BTreeSet;
use std::sync::{OnceLock, RwLock};

/// What a registered secret is replaced by.
pub const MASK: &str = "***";

/// The shortest value registered.
pub const MIN_LEN: usize = 4;

/// At most this many values are kept (access tokens are renewed in a
/// long-running `reconcile --watch`); past it, one already kept is dropped
/// to make room, so the value just sent is always masked.
const MAX_VALUES: usize = 4096;

fn known() -> &'static RwLock<BTreeSet<String>> {
    static KNOWN: OnceLock<RwLock<BTreeSet<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| RwLock::new(BTreeSet::new()))
}

/// Remember `value` as a secret this process sends.
pub fn register(value: &str) {
    if value.chars().count() < MIN_LEN {
        return;
    }
    let mut set = match known().write() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    if set.len() >= MAX_VALUES && !set.contains(value) {
        // Arbitrary but bounded: forget one to make room.
        if let Some(first) = set.iter().next().cloned() {
            set.remove(&first);
        }
    }
    set.insert(value.to_owned());
}

/// `text` with every registered secret replaced by [`MASK`], in each form
/// an error text may carry it ([`forms`]); longer forms first, so a secret
/// containing another is masked whole.
pub fn redact(text: &str) -> String {
    let set = match known().read() {
        Ok(s) => s,
        Err(poisoned) => poisoned.into_inner(),
    };
    let mut hits: Vec<String> = set
        .iter()
        .flat_map(|s| forms(s))
        .filter(|f| text.contains(f.as_str()))
        .collect();
    if hits.is_empty() {
        return text.to_owned();
    }
    hits.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let mut out = text.to_owned();
    for f in hits {
        out = out.replace(f.as_str(), MASK);
    }
    out
}

/// The forms a sent value can come back in: as sent, escaped inside a JSON
/// string (an error that embeds the request body), and URL-encoded (the
/// token endpoint's form body, or a value echoed from a query string), with
/// a space as `+` or `%20` and hex digits in either case.
fn forms(s: &str) -> Vec<String> {
    let mut out = vec![s.to_owned(), escaped(s)];
    let form: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
    let pct = form.replace('+', "%20");
    out.extend([lower_hex(&pct), lower_hex(&form), pct, form]);
    out.sort();
    out.dedup();
    out
}

/// `%2F` written `%2f`: percent-encodings are case-insensitive in their hex.
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3).unwrap_or(&rest[i..]);
        out.push_str(&esc.to_ascii_lowercase());
        rest = &rest[i + esc.len()..];
    }
    out.push_str(rest);
    out
}

/// How `s` reads inside a JSON string (what an error message that embeds
/// the request body shows).
fn escaped(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_and_short_ones_ignored() {
        register("kinds7-redact-Secret\"quoted");
        register("abc");
        let text = "value 'kinds7-redact-Secret\"quoted' is invalid; body {\"value\":\"kinds7-redact-Secret\\\"quoted\"} abc";
        let out = redact(text);
        assert!(!out.contains("kinds7-redact-Secret"), "{out}");
        assert_eq!(out.matches(MASK).count(), 2, "{out}");
        assert!(
            out.ends_with("abc"),
            "a value shorter than MIN_LEN is not a secret worth mangling text for: {out}"
        );
        assert_eq!(redact("nothing to hide"), "nothing to hide");
    }

    #[test]
    fn url_encoded_echoes_are_masked() {
        let secret = "redact-Url/Enc oded+Secret&x=1";
        register(secret);
        for echoed in [
            "redact-Url%2FEnc+oded%2BSecret%26x%3D1",
            "redact-Url%2FEnc%20oded%2BSecret%26x%3D1",
            "redact-Url%2fEnc%20oded%2bSecret%26x%3d1",
        ] {
            let out = redact(&format!(
                "client_secret={echoed}&grant_type=client_credentials"
            ));
            assert_eq!(
                out, "client_secret=***&grant_type=client_credentials",
                "{echoed}"
            );
        }
    }

    #[test]
    fn a_graph_error_that_echoes_a_sent_secret_never_shows_it() {
        use crate::graph::error::{error_from_response, RequestInfo};
        use crate::graph::secret::Secret;
        let password = "kinds7-Initial-P4ssword!";
        let client_secret = Secret::new("kinds7-client-secret-value");
        register(password);
        let url = url::Url::parse("https://graph.example/v1.0/users").expect("test fixture");
        for status in [400, 403, 409, 500] {
            let body = serde_json::json!({"error": {"code": "Request_BadRequest", "message": format!("The password '{password}' does not comply; client {}", client_secret.expose()),
                "details": [{"code": "x", "message": format!("value {password}"), "target": password}]}});
            let e = error_from_response(
                RequestInfo::new("POST", &url),
                status,
                Some(&body),
                None,
                1,
                None,
            );
            let shown = format!("{e} {e:?}");
            assert!(
                !shown.contains(password) && !shown.contains(client_secret.expose()),
                "{shown}"
            );
            if status == 400 {
                assert!(
                    shown.contains("The password '***' does not comply; client ***"),
                    "{shown}"
                );
            }
        }
    }
}
