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
}

impl Location {
    /// Location of a byte span within `text`. Builds a line index of the
    /// whole text: to locate many spans in one file, build a [`LineIndex`]
    /// once and use [`Location::from_span_in`].
    pub fn from_span(file: &Path, text: &str, span: Range<usize>) -> Location {
        Location::from_span_in(file, text, &LineIndex::new(text), span)
    }

    /// Location of a byte span within `text`, whose line starts are
    /// `index`: a binary search plus the length of one line, however far
    /// into the file the span is.
    pub fn from_span_in(file: &Path, text: &str, index: &LineIndex, span: Range<usize>) -> Location {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let line0 = index.line_of(start);
        let line_start = index.starts.get(line0).copied().unwrap_or(0).min(start);
        let line_end = text[start..]
            .find('\n')
            .map(|i| start + i)
            .unwrap_or(text.len());
        let column = text[line_start..start].chars().count() + 1;
        let line_text = text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        let end = floor_char_boundary(text, span.end.clamp(start, line_end));
        let width = text[start..end].chars().count().max(1);
        Location {
            file: file.to_path_buf(),
            line: line0 + 1,
            column,
            line_text,
            width,
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
        }
    }
}

/// Byte offsets where each line of one text starts, built in one pass so
/// that turning a byte offset into a line is a binary search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineIndex {
    /// Offset of the first byte of each line; always starts with 0.
    starts: Vec<usize>,
}

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
        LineIndex { starts }
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
                loc.file.display(),
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

/// The part of `loc`'s line to show, with the caret's column and width in
/// it: the whole line when short, else a window around the column.
fn snippet_window(loc: &Location) -> (std::borrow::Cow<'_, str>, usize, usize) {
    // Control and bidi characters are shown as U+FFFD, one for one so the
    // caret stays aligned: a source line cannot reorder or recolour the
    // terminal ("Trojan Source").
    let hidden = |c: char| {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
    };
    let visible = |c: char| if hidden(c) { '\u{FFFD}' } else { c };
    let count = loc.line_text.chars().count();
    if count <= MAX_SNIPPET {
        if loc.line_text.chars().any(hidden) {
            return (loc.line_text.chars().map(visible).collect::<String>().into(), loc.column, loc.width);
        }
        return (loc.line_text.as_str().into(), loc.column, loc.width);
    }
    let col = loc.column.saturating_sub(1).min(count);
    let start = col.saturating_sub(MAX_SNIPPET / 4);
    let end = (start + MAX_SNIPPET).min(count);
    let mut text: String = loc.line_text.chars().skip(start).take(end - start).map(visible).collect();
    let mut column = col - start + 1;
    if start > 0 {
        text.insert(0, '…');
        column += 1;
    }
    if end < count {
        text.push('…');
    }
    (text.into(), column, loc.width.clamp(1, (end - col).max(1)))
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

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
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
}
