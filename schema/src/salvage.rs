//! Stage 1, after a file failed to parse: a best-effort scan of its raw lines
//! for the resources it meant to declare (`[group.KEY]`, `[group.KEY.sub]`,
//! `group.KEY.field = ..`, and `KEY = ..` under `[group]`), so references to
//! them are not reported as unknown on top of the syntax error that is the
//! real problem. The scan is generous on purpose: it only ever removes
//! `unknown-reference` errors, never adds a problem.

use std::str::FromStr;

use crate::address::{Address, Kind};

/// Addresses a file that failed to parse appears to declare.
pub fn declared_addresses(text: &str) -> Vec<Address> {
    let mut out = Vec::new();
    // The kind of a bare `[group]` header the following lines are under.
    let mut under: Option<Kind> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let inner = header.split(']').next().unwrap_or(header);
            let parts = split_key(inner);
            under = None;
            match parts.as_slice() {
                [kind] => under = Kind::from_str(kind).ok(),
                [kind, key, ..] => {
                    if let Ok(kind) = Kind::from_str(kind) {
                        out.push(Address::new(kind, key.clone()));
                    }
                }
                [] => {}
            }
            continue;
        }
        let Some((lhs, _)) = line.split_once('=') else {
            continue;
        };
        let parts = split_key(lhs);
        match (under, parts.as_slice()) {
            (Some(kind), [key, ..]) => out.push(Address::new(kind, key.clone())),
            (None, [kind, key, ..]) => {
                if let Ok(kind) = Kind::from_str(kind) {
                    out.push(Address::new(kind, key.clone()));
                }
            }
            _ => {}
        }
    }
    out
}

/// `group."a b".x` -> ["group", "a b", "x"]; unquoted parts trimmed.
fn split_key(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, '.') => parts.push(std::mem::take(&mut current).trim().to_string()),
            (None, c) => current.push(c),
        }
    }
    parts.push(current.trim().to_string());
    parts.retain(|p| !p.is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_headers_dotted_keys_and_keys_under_a_kind() {
        let text = "[group.a]\nx = 1\n[[user.\"b\".extra]]\n[device_configuration]\nc = { x = \n[tenant]\nprimary_domain = 1\nguest.d.email = 2\n[not_a_kind.e]\n";
        let got: Vec<String> = declared_addresses(text)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            got,
            ["group.a", "user.b", "device_configuration.c", "guest.d"]
        );
    }
}
