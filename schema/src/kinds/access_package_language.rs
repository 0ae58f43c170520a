//! The language codes of requestor questions' translations
//! (`accessPackageLocalizedText.languageCode`, v1.0): "The language
//! component follows 2-letter codes as defined in ISO 639-1, and the
//! country component follows 2-letter codes as defined in ISO 3166-1
//! alpha-2" (v1.0 resource page, e.g. `en-us`). Held to the real code
//! lists, not only their shape: `xx-yy` is refused as `en_US` is.

use super::named_location::COUNTRY_CODES;

/// ISO 639-1's two-letter language codes (183, without the withdrawn `sh`).
pub const LANGUAGE_CODES: &[&str] = &[
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch",
    "co", "cr", "cs", "cu", "cv", "cy", "da", "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy",
    "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it",
    "iu", "ja", "jv", "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln", "lo",
    "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny",
    "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl",
    "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty",
    "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu",
];

/// Whether `code` is an ISO 639-1 language, optionally `-` and an ISO
/// 3166-1 alpha-2 country, in either case (`fr`, `en-us`, `en-US`).
pub fn is_language_code(code: &str) -> bool {
    let language = |s: &str| LANGUAGE_CODES.iter().any(|l| l.eq_ignore_ascii_case(s));
    match code.split_once('-') {
        Some((l, c)) => language(l) && COUNTRY_CODES.iter().any(|x| x.eq_ignore_ascii_case(c)),
        None => language(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_held_to_the_iso_lists() {
        for ok in ["fr", "de", "en-us", "fr-FR", "pt-BR", "zh-tw"] {
            assert!(is_language_code(ok), "{ok}");
        }
        for bad in ["en_US", "xx-12345", "xx", "xx-yy", "en-zz", "english", "en-", "-us", "", "en-us-x"] {
            assert!(!is_language_code(bad), "{bad}");
        }
    }
}
