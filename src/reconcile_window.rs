//! Sync windows for `reconcile --self-heal` (`--window "Mon-Fri 08:00-18:00"`):
//! days of the week and a time range at a fixed offset, inside which
//! corrections may be applied.

use chrono::{DateTime, Datelike, FixedOffset, NaiveTime, Utc};

/// A sync window: days of the week and a time range, at a fixed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    days: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
    offset: FixedOffset,
    text: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Window {
    pub fn parse(s: &str) -> Result<Window, String> {
        let bad = |why: &str| format!("window `{s}`: {why} (e.g. \"Mon-Fri 08:00-18:00\" or \"Sat 02:00-06:00 +01:00\")");
        let parts: Vec<&str> = s.split_whitespace().collect();
        let (days, times, offset) = match parts.as_slice() {
            [d, t] => (*d, *t, "UTC"),
            [d, t, o] => (*d, *t, *o),
            _ => return Err(bad("expected DAYS TIMES [OFFSET]")),
        };
        let day = |d: &str| DAYS.iter().position(|x| d.to_ascii_lowercase().starts_with(x) && d.len() >= 3).ok_or_else(|| bad(&format!("unknown day `{d}`")));
        let mut set = [false; 7];
        for part in days.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let mut i = a;
                    loop {
                        set[i] = true;
                        if i == b {
                            break;
                        }
                        i = (i + 1) % 7;
                    }
                }
                None => set[day(part)?] = true,
            }
        }
        let (a, b) = times.split_once('-').ok_or_else(|| bad("expected HH:MM-HH:MM"))?;
        let t = |x: &str| NaiveTime::parse_from_str(x, "%H:%M").map_err(|_| bad(&format!("`{x}` is not HH:MM")));
        let offset = match offset {
            "UTC" | "utc" | "Z" => FixedOffset::east_opt(0),
            o => {
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let (h, m) = o.trim_start_matches(['+', '-']).split_once(':').ok_or_else(|| bad("offset must be UTC or +HH:MM"))?;
                let (h, m): (i32, i32) = (h.parse().map_err(|_| bad("bad offset"))?, m.parse().map_err(|_| bad("bad offset"))?);
                FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            }
        }
        .ok_or_else(|| bad("offset out of range"))?;
        Ok(Window { days: set, start: t(a)?, end: t(b)?, offset, text: s.to_string() })
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.offset);
        let time = local.time();
        let day = local.weekday().num_days_from_monday() as usize;
        if self.start < self.end {
            self.days[day] && time >= self.start && time < self.end
        } else {
            // Spans midnight: the part after midnight belongs to the day before.
            let prev = (day + 6) % 7;
            (self.days[day] && time >= self.start) || (self.days[prev] && time < self.end)
        }
    }
}

/// Whether changes may be made now.
pub fn window_open(windows: &[Window], at: DateTime<Utc>) -> bool {
    windows.is_empty() || windows.iter().any(|w| w.contains(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("test fixture")
    }

    #[test]
    fn windows_by_day_time_and_offset() {
        let w = Window::parse("Mon-Fri 08:00-18:00").expect("test fixture");
        assert!(w.contains(at("2026-11-23T08:00:00Z"))); // Monday
        assert!(!w.contains(at("2026-11-23T18:00:00Z")));
        assert!(!w.contains(at("2026-11-22T10:00:00Z"))); // Sunday
        let w = Window::parse("Sat 02:00-06:00 +01:00").expect("test fixture");
        assert!(w.contains(at("2026-11-21T01:30:00Z"))); // 02:30 local Saturday
        assert!(!w.contains(at("2026-11-21T05:30:00Z")));
        let w = Window::parse("Fri 22:00-02:00").expect("test fixture");
        assert!(w.contains(at("2026-11-28T01:00:00Z"))); // Saturday 01:00, Friday's window
        assert!(!w.contains(at("2026-11-29T01:00:00Z")));
        assert!(Window::parse("Someday 08:00-09:00").is_err());
        assert!(Window::parse("Mon 8-9").is_err());
        assert!(window_open(&[], at("2026-11-22T10:00:00Z")));
    }
}
