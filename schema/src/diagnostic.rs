//! Located problems in desired state, rendered like rustc and taplo do: the
//! message, `--> file:line:column`, and the offending source line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

/// A position a human can find: file, 1-based line and column, and the text
/// of that line for the snippet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    #[serde(skip)]
    pub line_text: String,
    /// Width of the underlined span on that line (at least 1).
    #[serde(skip)]
    pub width: usize,
    /// The caret's 1-based column in `line_text`, which is only a window
    /// of a long line (marked with `…` where it was cut).
    #[serde(skip)]
    pub snippet_column: usize,
}

/// The part of the line `line_start..line_end` of `text` to keep for a
/// snippet around byte `at`, with `at`'s 1-based column in it: the whole
/// line when it is short, else at most [`MAX_SNIPPET`] characters around
/// `at`, `…` marking a cut. Looks at no more than that many characters.
fn window(text: &str, line_start: usize, at: usize, line_end: usize) -> (String, usize) {
    let line = &text[line_start..line_end];
    let short = line.len() <= MAX_SNIPPET || line.chars().nth(MAX_SNIPPET).is_none();
    if short {
        let column = text[line_start..at].chars().count() + 1;
        return (line.trim_end_matches('\r').to_string(), column);
    }
    // Up to a quarter of the window before the span, the rest after it.
    let from = text[line_start..at]
        .char_indices()
        .rev()
        .take(MAX_SNIPPET / 4)
        .last()
        .map(|(i, _)| line_start + i)
        .unwrap_or(at);
    let before = text[from..at].chars().count();
    let room = MAX_SNIPPET.saturating_sub(before + 2);
    let to = text[at..line_end]
        .char_indices()
        .nth(room)
        .map(|(i, _)| at + i)
        .unwrap_or(line_end);
    let mut shown = String::with_capacity(to - from + 6);
    if from > line_start {
        shown.push('…');
    }
    shown.push_str(&text[from..to]);
    if to < line_end {
        shown.push('…');
    } else {
        shown.truncate(shown.trim_end_matches('\r').len());
    }
    (shown, before + 1 + usize::from(from > line_start))
}

impl Location {
    /// Location of a byte span within `text`. Builds a line index of the
    /// whole text: to locate many spans in one file, build a [`LineIndex`]
    /// once and use [`Location::from_span_in`].
    pub fn from_span(file: &Path, text: &str, span: Range<usize>) -> Location {
        Location::from_span_in(file, text, &LineIndex::new(text), span)
    }

    /// Location of a byte span within `text`, whose line starts are
    /// `index`. Bounded work however long the line is (a 7 MB one-line file
    /// with 700 000 problems on it): the column comes from the index's
    /// character counts, and only a window of the line around the span is
    /// kept for the snippet.
    pub fn from_span_in(file: &Path, text: &str, index: &LineIndex, span: Range<usize>) -> Location {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let line0 = index.line_of(start);
        let line_start = index.starts.get(line0).copied().unwrap_or(0).min(start);
        let line_end = index
            .starts
            .get(line0 + 1)
            .map(|next| next - 1)
            .unwrap_or(text.len())
            .max(start);
        let column = index.chars_between(text, line_start, start) + 1;
        let end = floor_char_boundary(text, span.end.clamp(start, line_end));
        let width = text[start..end].chars().take(MAX_SNIPPET + 1).count().max(1);
        let (line_text, snippet_column) = window(text, line_start, start, line_end);
        Location {
            file: file.to_path_buf(),
            line: line0 + 1,
            column,
            line_text,
            width,
            snippet_column,
        }
    }

    /// A location naming a file only (empty file, unreadable file).
    pub fn file(file: &Path) -> Location {
        Location {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            line_text: String::new(),
            width: 1,
            snippet_column: 1,
        }
    }
}

/// Byte offsets where each line of one text starts, built in one pass so
/// that turning a byte offset into a line is a binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineIndex {
    /// Offset of the first byte of each line; always starts with 0.
    starts: Vec<usize>,
    /// Characters before each multiple of [`CHAR_BLOCK`] bytes, so a
    /// column deep into a long line is counted from near it.
    chars: Vec<usize>,
}

/// Bytes between the character counts a [`LineIndex`] keeps.
const CHAR_BLOCK: usize = 256;

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0);
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let bytes = text.as_bytes();
        let mut chars = Vec::with_capacity(bytes.len() / CHAR_BLOCK + 1);
        let mut count = 0;
        for block in bytes.chunks(CHAR_BLOCK) {
            chars.push(count);
            count += block.iter().filter(|&&b| !is_continuation(b)).count();
        }
        chars.push(count);
        LineIndex { starts, chars }
    }

    /// Characters in `text[from..to]` (both char boundaries, `from <= to`),
    /// counting at most two blocks of bytes.
    pub fn chars_between(&self, text: &str, from: usize, to: usize) -> usize {
        self.chars_before(text, to).saturating_sub(self.chars_before(text, from))
    }

    fn chars_before(&self, text: &str, offset: usize) -> usize {
        let offset = offset.min(text.len());
        let block = offset / CHAR_BLOCK;
        match self.chars.get(block) {
            Some(&before) => {
                before
                    + text.as_bytes()[block * CHAR_BLOCK..offset]
                        .iter()
                        .filter(|&&b| !is_continuation(b))
                        .count()
            }
            // The index is of another text: count from the start.
            None => text[..floor_char_boundary(text, offset)].chars().count(),
        }
    }

    /// 0-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        // starts[0] == 0 <= offset, so the partition point is at least 1.
        self.starts.partition_point(|&s| s <= offset).saturating_sub(1)
    }
}

/// Where a resource was declared: its file and its path in that file
/// (`["group", "ring"]`), not a line and column. Those are found only when a
/// diagnostic needs them ([`crate::source::SourceFile::located`]), with the
/// file's spans parsed then, so loading valid files stays linear and parses
/// each file once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, as shown to the user (shared by every resource it declares).
    pub file: Arc<Path>,
    /// The declaration's path in the file.
    pub path: Vec<crate::source::Seg>,
}

impl Origin {
    /// An origin naming a file only.
    pub fn file(file: Arc<Path>) -> Origin {
        Origin { file, path: Vec::new() }
    }
}

/// A file's path as text output shows it: a name is anyone's to choose
/// (a pull request can add `x\n error: ...toml` or one holding terminal
/// escapes or a right-to-left override), so control and invisible
/// formatting characters are shown as `\u{..}` escapes and cannot start a
/// line of their own, recolour the terminal or reorder the text.
pub fn shown_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
    };
    if !text.chars().any(hidden) {
        return text.into_owned();
    }
    text.chars()
        .map(|c| if hidden(c) { format!("\\u{{{:x}}}", c as u32) } else { c.to_string() })
        .collect()
}

/// A UTF-8 byte that continues a character rather than starting one.
fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, with where it is and, when it helps, a hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable name of the check, e.g. `unknown-field`, `out-of-range`.
    pub code: &'static str,
    pub message: String,
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: None,
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            code,
            message: message.into(),
            location: None,
            help: None,
        }
    }

    pub fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    fn sort_key(&self) -> (Option<(&Path, usize, usize)>, &str) {
        (
            self.location
                .as_ref()
                .map(|l| (l.file.as_path(), l.line, l.column)),
            &self.message,
        )
    }
}

impl fmt::Display for Diagnostic {
    /// rustc's layout: the gutter is as wide as the line number, so
    ///
    /// ```text
    /// error[out-of-range]: ...
    ///   --> update-rings.toml:12:43
    ///    |
    /// 12 | quality_updates_deferral_period_in_days = 45
    ///    |                                           ^^
    ///    = help: ...
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{sev}[{}]: {}", self.code, self.message)?;
        let gutter = self
            .location
            .as_ref()
            .map(|l| l.line.to_string().len())
            .unwrap_or(1);
        let pad = " ".repeat(gutter);
        if let Some(loc) = &self.location {
            writeln!(
                f,
                "{pad}--> {}:{}:{}",
                shown_path(&loc.file),
                loc.line,
                loc.column
            )?;
            if !loc.line_text.is_empty() {
                // A huge line (a 10 MB value) is shown as a window around
                // the problem, so output stays readable.
                let (text, column, width) = snippet_window(loc);
                writeln!(f, "{pad} |")?;
                writeln!(f, "{} | {}", loc.line, text)?;
                // Keep tabs so the caret lines up under tab-indented text.
                let lead: String = text
                    .chars()
                    .take(column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                writeln!(f, "{pad} | {lead}{}", "^".repeat(width.max(1)))?;
            }
        }
        if let Some(help) = &self.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// The most of a source line a snippet shows.
const MAX_SNIPPET: usize = 160;

/// `loc`'s line as shown, with the caret's column and width in it: the
/// window [`Location::from_span_in`] kept, its control and bidi characters
/// made visible.
fn snippet_window(loc: &Location) -> (std::borrow::Cow<'_, str>, usize, usize) {
    // Control and bidi characters are shown as U+FFFD, one for one so the
    // caret stays aligned: a source line cannot reorder or recolour the
    // terminal ("Trojan Source").
    let hidden = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    let visible = |c: char| if hidden(c) { '\u{FFFD}' } else { c };
    // The window is at most MAX_SNIPPET characters; cap again in case a
    // Location was built by hand.
    let count = loc.line_text.chars().count().min(MAX_SNIPPET + 2);
    let column = loc.snippet_column.clamp(1, count + 1);
    let width = loc.width.clamp(1, (count + 1).saturating_sub(column).max(1));
    if loc.line_text.chars().any(hidden) || loc.line_text.chars().nth(MAX_SNIPPET + 2).is_some() {
        return (loc.line_text.chars().take(MAX_SNIPPET + 2).map(visible).collect::<String>().into(), column, width);
    }
    (loc.line_text.as_str().into(), column, width)
}

/// Every problem found in one load, sorted by file and position so output
/// is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.severity == Severity::Error)
    }

    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.0.dedup();
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// The most problems of one code shown; the rest are counted.
pub const SHOWN_PER_CODE: usize = 20;
/// The most problems shown in all; the rest are counted.
pub const SHOWN_IN_ALL: usize = 200;

impl fmt::Display for Diagnostics {
    /// The first [`SHOWN_PER_CODE`] problems of each code (at most
    /// [`SHOWN_IN_ALL`] in all) in full, then how many more of each code
    /// there are, then the exact totals: a file with 700 000 problems gives
    /// a readable report, not gigabytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::collections::BTreeMap;
        let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
        let mut hidden: BTreeMap<(Severity, &str), usize> = BTreeMap::new();
        let mut total = 0;
        for d in &self.0 {
            let n = shown.entry(d.code).or_default();
            if *n < SHOWN_PER_CODE && total < SHOWN_IN_ALL {
                *n += 1;
                total += 1;
                writeln!(f, "{d}")?;
            } else {
                *hidden.entry((d.severity, d.code)).or_default() += 1;
            }
        }
        for ((severity, code), n) in &hidden {
            let sev = match severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            writeln!(f, "… and {n} more {sev}(s) [{code}] not shown")?;
        }
        let errors = self.errors().count();
        let warnings = self.0.len() - errors;
        write!(f, "{errors} error(s), {warnings} warning(s)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_spans() {
        let text = "a = 1\nbb = \"x\"\n";
        let loc = Location::from_span(Path::new("f.toml"), text, 11..14);
        assert_eq!((loc.line, loc.column, loc.width), (2, 6, 3));
        assert_eq!(loc.line_text, "bb = \"x\"");
        let d = Diagnostic::error("test", "bad").at(Some(loc));
        let shown = d.to_string();
        assert!(shown.contains("--> f.toml:2:6"), "{shown}");
        assert!(shown.contains("2 | bb = \"x\""), "{shown}");
        assert!(shown.contains("  |      ^^^"), "{shown}");
    }

    #[test]
    fn gutter_is_as_wide_as_the_line_number() {
        let text = format!("{}key = 45\n", "\n".repeat(11));
        let loc = Location::from_span(Path::new("r.toml"), &text, 17..19);
        assert_eq!((loc.line, loc.column), (12, 7));
        let shown = Diagnostic::error("out-of-range", "too big")
            .at(Some(loc))
            .with_help("0 to 30")
            .to_string();
        let expected = "error[out-of-range]: too big\n  \
                        --> r.toml:12:7\n   \
                        |\n\
                        12 | key = 45\n   \
                        |       ^^\n   \
                        = help: 0 to 30\n";
        assert_eq!(shown, expected);
        let single = Diagnostic::error("x", "y")
            .at(Some(Location::from_span(Path::new("f"), "a = 1", 4..5)))
            .to_string();
        assert_eq!(
            single,
            "error[x]: y\n --> f:1:5\n  |\n1 | a = 1\n  |     ^\n"
        );
    }

    /// Every byte offset of a text with empty lines, CRLF, multibyte
    /// characters and no final newline is located exactly as counting
    /// newlines from the start of the file does.
    #[test]
    fn indexed_locations_match_counting_from_the_start() {
        let text = "a = 1\n\n[user.é]\r\nname = \"ü\"\n\n\nlast = 2";
        let index = LineIndex::new(text);
        for offset in 0..=text.len() + 2 {
            let got = Location::from_span_in(Path::new("f"), text, &index, offset..offset + 1);
            let start = floor_char_boundary(text, offset.min(text.len()));
            let line = text[..start].matches('\n').count() + 1;
            let line_start = text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
            let column = text[line_start..start].chars().count() + 1;
            assert_eq!((got.line, got.column), (line, column), "offset {offset}");
            let expected_text = text[line_start..].split('\n').next().unwrap_or("").trim_end_matches('\r');
            assert_eq!(got.line_text, expected_text, "offset {offset}");
        }
        assert_eq!(index.line_of(0), 0);
        assert_eq!(index.line_of(6), 1);
        assert_eq!(index.line_of(7), 2);
    }

    #[test]
    fn span_past_end_and_inside_multibyte_is_safe() {
        let text = "é = 1";
        let loc = Location::from_span(Path::new("f"), text, 1..99);
        assert_eq!(loc.line, 1);
        let loc = Location::from_span(Path::new("f"), "", 5..9);
        assert_eq!((loc.line, loc.column), (1, 1));
    }

    /// A span deep into a long line with multibyte characters is located
    /// exactly (as counting from the line start does), and only a window
    /// of the line is kept, with the caret under the span.
    #[test]
    fn long_lines_are_located_exactly_and_kept_as_a_window() {
        let line: String = (0..20_000).map(|i| if i % 7 == 0 { "é" } else { "ab" }).collect();
        let text = format!("first = 1\nmembers = [{line}]\nlast = 2\n");
        let index = LineIndex::new(&text);
        let line_start = text.find("members").unwrap();
        for at in [line_start, line_start + 11, line_start + 5_000, text.find("]\n").unwrap()] {
            let at = floor_char_boundary(&text, at);
            let loc = Location::from_span_in(Path::new("f"), &text, &index, at..at + 2);
            assert_eq!(loc.line, 2);
            assert_eq!(loc.column, text[line_start..at].chars().count() + 1, "{at}");
            assert!(loc.line_text.chars().count() <= MAX_SNIPPET, "{}", loc.line_text.len());
            let shown = Diagnostic::error("x", "y").at(Some(loc.clone())).to_string();
            let lines: Vec<&str> = shown.lines().collect();
            // The caret is under the span's first character in the window.
            let caret = lines[4].find('^').unwrap();
            let gutter = lines[3].find("| ").unwrap() + 2;
            let under: String = lines[3][gutter..].chars().skip(lines[4][gutter..caret].chars().count()).take(1).collect();
            let expected: String = text[at..].chars().take(1).collect();
            assert_eq!(under, expected, "{shown}");
        }
    }

    /// Many problems of one code: the first few are shown, the rest
    /// counted exactly, and the totals are exact.
    #[test]
    fn many_problems_of_one_code_are_counted_not_all_shown() {
        let mut diags = Diagnostics::default();
        for i in 0..1000 {
            diags.push(Diagnostic::error("unknown-reference", format!("r{i}")));
        }
        diags.push(Diagnostic::error("syntax", "bad"));
        diags.push(Diagnostic::warning("w", "careful"));
        let shown = diags.to_string();
        assert_eq!(shown.matches("error[unknown-reference]").count(), SHOWN_PER_CODE);
        assert!(shown.contains("error[syntax]: bad"), "{shown}");
        assert!(shown.contains("warning[w]: careful"), "{shown}");
        assert!(shown.contains(&format!("… and {} more error(s) [unknown-reference] not shown", 1000 - SHOWN_PER_CODE)), "{shown}");
        assert!(shown.ends_with("1001 error(s), 1 warning(s)"), "{shown}");
    }
}
