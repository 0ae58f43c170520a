//! How a script's bytes are encoded, for the review notes of a changed
//! script (`script_review`): a byte-order mark and the line ends.
//!
//! Intune hands a script to the device byte for byte as it was uploaded
//! (`scriptContent` is the file's base64), and Windows PowerShell 5.1
//! reads a script as UTF-8 only when it starts with the UTF-8 byte-order
//! mark (without it, as the system's ANSI code page), so a live script
//! uploaded in the portal with a mark is not the same script as the file
//! without one: tenantctl compares the exact bytes (by SHA-256) and keeps
//! reporting the difference, but says what it is, since neither a mark
//! nor CR characters show in a line diff.

/// A byte-order mark at the start of `bytes`, by name.
fn bom(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        Some("UTF-8 byte-order mark")
    } else if bytes.starts_with(&[0xFF, 0xFE]) {
        Some("UTF-16 LE byte-order mark")
    } else if bytes.starts_with(&[0xFE, 0xFF]) {
        Some("UTF-16 BE byte-order mark")
    } else {
        None
    }
}

fn bom_len(bytes: &[u8]) -> usize {
    match bom(bytes) {
        Some(b) if b.starts_with("UTF-8") => 3,
        Some(_) => 2,
        None => 0,
    }
}

/// The line ends of `bytes`: "CRLF", "LF", "mixed CRLF and LF", or None
/// for a single line.
fn line_ends(bytes: &[u8]) -> Option<&'static str> {
    let lf = bytes.iter().filter(|b| **b == b'\n').count();
    let crlf = bytes.windows(2).filter(|w| w == b"\r\n").count();
    match (lf, crlf) {
        (0, _) => None,
        (l, c) if c == l => Some("CRLF"),
        (_, 0) => Some("LF"),
        _ => Some("mixed CRLF and LF"),
    }
}

/// `bytes` without a byte-order mark and with CRLF as LF.
fn plain(bytes: &[u8]) -> Vec<u8> {
    let b = &bytes[bom_len(bytes)..];
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// What differs in the encoding of the tenant's copy (`live`) and the file
/// (`file`) of `content`, as notes; empty when both start and end their
/// lines alike. Says when nothing else differs.
pub fn notes(content: &str, live: &[u8], file: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let (lb, fb) = (bom(live), bom(file));
    if lb != fb {
        out.push(match (lb, fb) {
            (Some(l), None) => format!("{content}: the tenant's copy starts with a {l} the file does not have (Intune runs the bytes as uploaded; Windows PowerShell 5.1 reads a script as UTF-8 only with the UTF-8 mark): apply uploads the file as it is"),
            (None, Some(f)) => format!("{content}: the file starts with a {f} the tenant's copy does not have: apply uploads the file as it is"),
            (l, f) => format!("{content}: the tenant's copy starts with a {}, the file with a {}", l.unwrap_or("no mark"), f.unwrap_or("no mark")),
        });
    }
    let (le, fe) = (line_ends(live), line_ends(file));
    if le != fe {
        if let (Some(l), Some(f)) = (le, fe) {
            out.push(format!("{content}: the tenant's copy ends its lines with {l}, the file with {f}"));
        }
    }
    if !out.is_empty() && live != file && plain(live) == plain(file) {
        out.push(format!("{content}: otherwise the same text; only the byte-order mark or the line ends differ"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_or_line_ends_are_named_and_nothing_when_alike() {
        let file = b"Write-Output 'ok'\nexit 0\n";
        let bom = b"\xEF\xBB\xBFWrite-Output 'ok'\r\nexit 0\r\n";
        let n = notes("scriptContent", bom, file);
        assert!(n[0].contains("tenant's copy starts with a UTF-8 byte-order mark the file does not have"), "{n:?}");
        assert!(n[1].contains("ends its lines with CRLF, the file with LF"), "{n:?}");
        assert!(n[2].contains("otherwise the same text"), "{n:?}");
        assert!(notes("scriptContent", file, file).is_empty());
        // A real edit beside the mark: the mark is named, not "the same".
        let edited = b"\xEF\xBB\xBFWrite-Output 'changed'\nexit 0\n";
        let n = notes("scriptContent", edited, file);
        assert_eq!(n.len(), 1, "{n:?}");
        assert!(!n[0].contains("otherwise the same"));
    }
}
