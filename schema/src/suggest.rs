//! "Did you mean" suggestions for misspelt names.

/// The candidate closest to `word`, if it is close enough to be a likely typo.
/// A word or candidate longer than [`MAX_WORD`] is no typo of a name and is
/// skipped (comparing two long strings costs the product of their lengths).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    if word.len() > MAX_WORD {
        return None;
    }
    let word = word.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c.len() > MAX_WORD {
            continue;
        }
        let score = strsim::jaro_winkler(&word, &c.to_ascii_lowercase());
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// How many searches [`bounded`] makes in one validation.
pub const MAX_SEARCHES: usize = 100;

/// `search()` while fewer than [`MAX_SEARCHES`] have been made (`made`
/// counts them), else `None`: a million unknown names cost a hundred
/// searches through the declared keys, not a million.
pub fn bounded(made: &mut usize, search: impl FnOnce() -> Option<String>) -> Option<String> {
    if *made >= MAX_SEARCHES {
        return None;
    }
    *made += 1;
    search()
}

/// The longest name a suggestion is looked for (in bytes).
const MAX_WORD: usize = 256;

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
