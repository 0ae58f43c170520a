//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&word.to_ascii_lowercase(), &c.to_ascii_lowercase());
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn suggests_close_names_only() {
        let names = ["mail_nickname", "display_name", "user_principal_name"];
        assert_eq!(
            super::closest("mail_nicknme", names).as_deref(),
            Some("mail_nickname")
        );
        assert_eq!(super::closest("zzz", names), None);
    }
}
