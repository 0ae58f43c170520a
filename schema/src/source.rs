//! One loaded TOML file: its text, parsed document (for spans), and a way to
//! find the location of any path inside it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use toml_edit::{ImDocument, Item, Value};

use crate::diagnostic::{LineIndex, Location, Origin};

/// A segment of a path into a TOML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Seg::Key(s.to_string())
    }
}
impl From<String> for Seg {
    fn from(s: String) -> Self {
        Seg::Key(s)
    }
}
impl From<&String> for Seg {
    fn from(s: &String) -> Self {
        Seg::Key(s.clone())
    }
}
impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// Build a TOML path: `path!["user", key, "mail_nickname"]`.
#[macro_export]
macro_rules! path {
    ($($seg:expr),* $(,)?) => { [$($crate::source::Seg::from($seg)),*] };
}

pub struct SourceFile {
    /// Path as shown to the user (relative to the desired-state directory's parent).
    pub path: PathBuf,
    pub text: String,
    /// The document with spans, parsed the first time a location is needed
    /// (the values themselves are parsed once, by `load`).
    doc: OnceLock<Option<ImDocument<String>>>,
    /// `path`, shared by the origins of every resource this file declares.
    file: Arc<Path>,
    /// Line starts, built the first time a location in this file is needed.
    lines: OnceLock<LineIndex>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> SourceFile {
        let file: Arc<Path> = Arc::from(path.as_path());
        SourceFile {
            path,
            text,
            doc: OnceLock::new(),
            file,
            lines: OnceLock::new(),
        }
    }

    /// The document with spans (parsed on first use; `None` if it does not parse).
    pub fn doc(&self) -> Option<&ImDocument<String>> {
        self.doc.get_or_init(|| ImDocument::parse(self.text.clone()).ok()).as_ref()
    }

    pub fn location(&self, span: std::ops::Range<usize>) -> Location {
        let index = self.lines.get_or_init(|| LineIndex::new(&self.text));
        Location::from_span_in(&self.path, &self.text, index, span)
    }

    /// Where `path` is declared: nothing is parsed or counted until
    /// [`SourceFile::located`] asks for the line and column.
    pub fn origin(&self, path: &[Seg]) -> Origin {
        Origin {
            file: Arc::clone(&self.file),
            path: path.to_vec(),
        }
    }

    /// Whether `origin` points into this file.
    pub fn holds(&self, origin: &Origin) -> bool {
        Arc::ptr_eq(&self.file, &origin.file) || *self.file == *origin.file
    }

    /// The line and column of an origin in this file.
    pub fn located(&self, origin: &Origin) -> Location {
        self.locate(&origin.path)
    }

    /// Location of the value at `path`, or of its nearest ancestor that
    /// exists (a missing field is reported at its table).
    pub fn locate(&self, path: &[Seg]) -> Location {
        match self.span_of(path) {
            Some(span) => self.location(span),
            None => Location::file(&self.path),
        }
    }

    /// Span of the value at `path`, or of its nearest ancestor that exists.
    fn span_of(&self, path: &[Seg]) -> Option<std::ops::Range<usize>> {
        let doc = self.doc()?;
        let mut best = None;
        let mut item = doc.as_item();
        for seg in path {
            let next = match seg {
                Seg::Key(k) => {
                    if let Some(span) = key_span(item, k) {
                        best = Some(span);
                    }
                    item.get(k.as_str())
                }
                Seg::Index(i) => item.get(*i),
            };
            let Some(next) = next else { break };
            if let Some(span) = next.span() {
                best = Some(span);
            }
            item = next;
        }
        best
    }
}

impl SourceFile {
    /// Location of the key that ends `path` (e.g. an unknown field's name),
    /// falling back to the value's location.
    pub fn locate_key(&self, path: &[Seg]) -> Location {
        let (Some(doc), Some((Seg::Key(last), parent))) = (self.doc(), path.split_last()) else {
            return self.locate(path);
        };
        let mut item = doc.as_item();
        for seg in parent {
            let next = match seg {
                Seg::Key(k) => item.get(k.as_str()),
                Seg::Index(i) => item.get(*i),
            };
            match next {
                Some(n) => item = n,
                None => return self.locate(path),
            }
        }
        match key_span(item, last) {
            Some(span) => self.location(span),
            None => self.locate(path),
        }
    }
}

fn key_span(item: &Item, key: &str) -> Option<std::ops::Range<usize>> {
    match item {
        Item::Table(t) => t.get_key_value(key).and_then(|(k, _)| k.span()),
        Item::Value(Value::InlineTable(t)) => t.get_key_value(key).and_then(|(k, _)| k.span()),
        _ => None,
    }
}

/// The display path of `file` relative to `base` when it is below it.
pub fn display_path(base: &Path, file: &Path) -> PathBuf {
    file.strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| file.to_path_buf())
}
