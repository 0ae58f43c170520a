//! The language codes Graph takes in access package question
//! translations (`accessPackageLocalizedText.languageCode`, v1.0): "The
//! language component follows 2-letter codes as defined in ISO 639-1, and
//! the country component follows 2-letter codes as defined in ISO 3166-1
//! alpha-2" (v1.0 resource page). What Graph answers to another code is
//! not documented; the sandbox refuses it with 400 `BadRequest`, as it
//! does any other invalid property value, in its own words. The lists are
//! the sandbox's own (it does not share tenantctl's validation).

/// ISO 639-1's two-letter language codes (183, without the withdrawn `sh`).
const LANGUAGES: &[&str] = &[
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch",
    "co", "cr", "cs", "cu", "cv", "cy", "da", "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy",
    "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it",
    "iu", "ja", "jv", "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln", "lo",
    "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny",
    "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl",
    "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty",
    "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu",
];

/// ISO 3166-1 alpha-2 country codes.
const COUNTRIES: &[&str] = &[
    "ad", "ae", "af", "ag", "ai", "al", "am", "ao", "aq", "ar", "as", "at", "au", "aw", "ax", "az", "ba", "bb", "bd", "be", "bf", "bg", "bh", "bi",
    "bj", "bl", "bm", "bn", "bo", "bq", "br", "bs", "bt", "bv", "bw", "by", "bz", "ca", "cc", "cd", "cf", "cg", "ch", "ci", "ck", "cl", "cm", "cn",
    "co", "cr", "cu", "cv", "cw", "cx", "cy", "cz", "de", "dj", "dk", "dm", "do", "dz", "ec", "ee", "eg", "eh", "er", "es", "et", "fi", "fj", "fk",
    "fm", "fo", "fr", "ga", "gb", "gd", "ge", "gf", "gg", "gh", "gi", "gl", "gm", "gn", "gp", "gq", "gr", "gs", "gt", "gu", "gw", "gy", "hk", "hm",
    "hn", "hr", "ht", "hu", "id", "ie", "il", "im", "in", "io", "iq", "ir", "is", "it", "je", "jm", "jo", "jp", "ke", "kg", "kh", "ki", "km", "kn",
    "kp", "kr", "kw", "ky", "kz", "la", "lb", "lc", "li", "lk", "lr", "ls", "lt", "lu", "lv", "ly", "ma", "mc", "md", "me", "mf", "mg", "mh", "mk",
    "ml", "mm", "mn", "mo", "mp", "mq", "mr", "ms", "mt", "mu", "mv", "mw", "mx", "my", "mz", "na", "nc", "ne", "nf", "ng", "ni", "nl", "no", "np",
    "nr", "nu", "nz", "om", "pa", "pe", "pf", "pg", "ph", "pk", "pl", "pm", "pn", "pr", "ps", "pt", "pw", "py", "qa", "re", "ro", "rs", "ru", "rw",
    "sa", "sb", "sc", "sd", "se", "sg", "sh", "si", "sj", "sk", "sl", "sm", "sn", "so", "sr", "ss", "st", "sv", "sx", "sy", "sz", "tc", "td", "tf",
    "tg", "th", "tj", "tk", "tl", "tm", "tn", "to", "tr", "tt", "tv", "tw", "tz", "ua", "ug", "um", "us", "uy", "uz", "va", "vc", "ve", "vg", "vi",
    "vn", "vu", "wf", "ws", "ye", "yt", "za", "zm", "zw",
];

/// Whether `code` is `ll` or `ll-cc` of the two lists, in either case.
pub fn is_language_code(code: &str) -> bool {
    let language = |s: &str| LANGUAGES.iter().any(|l| l.eq_ignore_ascii_case(s));
    match code.split_once('-') {
        Some((l, c)) => language(l) && COUNTRIES.iter().any(|x| x.eq_ignore_ascii_case(c)),
        None => language(code),
    }
}

/// A question's or an answer choice's `localizations`: a collection of
/// `{languageCode, text}`, each code of the documented form and the
/// languageCode present (non-nullable in the v1.0 metadata).
pub fn check(localizations: Option<&serde_json::Value>, what: &str) -> Result<(), crate::error::GraphError> {
    let bad = |m: String| crate::error::GraphError::bad_request(m);
    let Some(list) = localizations.filter(|l| !l.is_null()) else { return Ok(()) };
    let list = list.as_array().ok_or_else(|| bad(format!("The property 'localizations' of {what} must be a collection.")))?;
    for l in list {
        let code = l.get("languageCode").and_then(serde_json::Value::as_str).ok_or_else(|| bad(format!("Each localization of {what} needs a languageCode.")))?;
        if !is_language_code(code) {
            return Err(bad(format!("The languageCode '{code}' of {what} is not a valid language code: expected an ISO 639-1 language, optionally '-' and an ISO 3166-1 alpha-2 country (for example 'en-us').")));
        }
    }
    Ok(())
}
