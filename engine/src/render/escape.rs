//! Escaping of values for each output format. Live values (display names,
//! ids, Graph's error messages) come from the tenant and never passed
//! validation: anyone who can rename an object can put terminal escape
//! sequences, right-to-left overrides, HTML or Markdown in them. Every
//! renderer passes every such value through the function for its format.

/// Whether `c` is shown as an escape rather than as itself: control
/// characters (C0 including newline and tab, DEL, C1) and the invisible
/// formatting characters that reorder or hide text (bidi embeddings,
/// overrides and isolates, zero-width characters, line and paragraph
/// separators, the byte-order mark), and the blanks that pass for a space
/// or for nothing (no-break and other width spaces, the soft hyphen,
/// fillers): a name ending in a no-break space reads as the declared one
/// (hostile run 17, finding 6).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00A0}'
                | '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180E}'
                | '\u{2000}'..='\u{200A}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{2800}'
                | '\u{3000}'
                | '\u{3164}'
                | '\u{FFA0}'
                | '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// Text for terminals and logs: every hidden character shown as `\u{..}`,
/// so a value can neither move the cursor, recolour the terminal, reverse
/// the text around it, nor start a line of its own.
pub fn text_safe(s: &str) -> String {
    if !s.chars().any(is_hidden) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Text for HTML element content and attribute values (also inside a
/// Markdown HTML block such as `<summary>`), hidden characters escaped.
pub fn html_text(s: &str) -> String {
    let s = text_safe(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where Markdown text goes: a table cell must also keep `|` from ending
/// the cell, even inside a code span.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MdContext {
    Paragraph,
    TableCell,
}

/// Markdown text outside code fences. The engine's own messages quote
/// values in backticks; those pairs stay code spans (whose content is
/// literal), and everything else is escaped with character references,
/// which Markdown and HTML both decode: `<`, `>` and `&` (no HTML),
/// `[` and `]` (no links or remote images), `|` (no table cells), `*`,
/// `~` and `\`. Hidden characters (newlines included) are escaped first, so
/// a value cannot end a block or start a new one (`</details>`, a heading).
pub fn md_text(s: &str, context: MdContext) -> String {
    let s = text_safe(s);
    let segments: Vec<&str> = s.split('`').collect();
    // An even number of segments means an unpaired backtick: the last
    // segment is then plain text after a literal backtick.
    let paired = segments.len() % 2 == 1;
    let mut out = String::with_capacity(s.len() + 16);
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        if i % 2 == 1 && seg.is_empty() {
            // "``" would open a longer code span: show both literally.
            out.push_str(if paired || !last {
                "&#96;&#96;"
            } else {
                "&#96;"
            });
        } else if i % 2 == 1 && (paired || !last) {
            // A code span keeps its content literally; only a table cell's
            // `|` needs GFM's `\|`.
            out.push('`');
            out.push_str(&if context == MdContext::TableCell {
                seg.replace('|', "\\|")
            } else {
                seg.to_string()
            });
            out.push('`');
        } else {
            if i % 2 == 1 {
                out.push_str("&#96;");
            }
            for c in seg.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '|' => out.push_str("&#124;"),
                    '[' => out.push_str("&#91;"),
                    ']' => out.push_str("&#93;"),
                    '*' => out.push_str("&#42;"),
                    '~' => out.push_str("&#126;"),
                    '\\' => out.push_str("&#92;"),
                    c => out.push(c),
                }
            }
        }
    }
    out
}

/// A Markdown code span holding `s` literally, whatever backticks it holds
/// (CommonMark: a longer backtick string, padded with spaces).
pub fn md_code(s: &str, context: MdContext) -> String {
    let s = text_safe(s);
    let s = if context == MdContext::TableCell {
        s.replace('|', "\\|")
    } else {
        s
    };
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    if longest == 0 && !s.is_empty() {
        return format!("`{s}`");
    }
    let fence = "`".repeat(longest + 1);
    format!("{fence} {s} {fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_shows_hidden_characters_as_escapes() {
        assert_eq!(text_safe("plain"), "plain");
        assert_eq!(text_safe("a\u{202E}b"), "a\\u{202e}b");
        assert_eq!(
            text_safe("x\x1b[2Jy\nz\r\t"),
            "x\\u{1b}[2Jy\\u{a}z\\u{d}\\u{9}"
        );
        assert_eq!(
            text_safe("\u{2066}\u{200B}\u{FEFF}\u{85}"),
            "\\u{2066}\\u{200b}\\u{feff}\\u{85}"
        );
        assert_eq!(text_safe("Zoë 日本"), "Zoë 日本");
        assert_eq!(text_safe("fabrikam auditors\u{a0}"), "fabrikam auditors\\u{a0}", "a no-break space is not a space");
        assert_eq!(text_safe("a\u{2009}b\u{3000}c\u{ad}"), "a\\u{2009}b\\u{3000}c\\u{ad}");
    }

    #[test]
    fn markdown_escapes_outside_code_spans_and_keeps_engine_quotes() {
        let md = md_text(
            "no object with natural key `a<b` exists",
            MdContext::Paragraph,
        );
        assert_eq!(md, "no object with natural key `a<b` exists");
        let hostile = md_text(
            "<img src=x onerror=alert(1)></details>\n\n# [x](http://e) | ![i](http://e/p.png) *b*",
            MdContext::Paragraph,
        );
        for bad in ["<", ">", "\n", "[", "]", "|", "*"] {
            assert!(!hostile.contains(bad), "{bad:?} in {hostile}");
        }
        assert_eq!(
            md_text("a | `b|c`", MdContext::TableCell),
            "a &#124; `b\\|c`"
        );
        // An unpaired backtick is shown, not opening a span.
        assert_eq!(md_text("x`<y>", MdContext::Paragraph), "x&#96;&lt;y&gt;");
    }

    #[test]
    fn code_spans_hold_any_backticks() {
        assert_eq!(md_code("a", MdContext::Paragraph), "`a`");
        assert_eq!(md_code("a`b``c", MdContext::TableCell), "``` a`b``c ```");
        assert_eq!(md_code("x|y", MdContext::TableCell), "`x\\|y`");
    }

    #[test]
    fn html_escapes_markup_and_hidden_characters() {
        assert_eq!(
            html_text("<b a='1'>&\u{202E}"),
            "&lt;b a=&#39;1&#39;&gt;&amp;\\u{202e}"
        );
    }
}
