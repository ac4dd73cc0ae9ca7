//! The dashboard's date range, from `?from=YYYY-MM-DD&to=YYYY-MM-DD` (both
//! days included, UTC). A value that cannot be used is not an error page: the
//! range falls back and the note says what was ignored.

use chrono::{Duration, NaiveDate};

/// Days shown when the URL names no range.
pub const DEFAULT_DAYS: i64 = 30;
/// The longest range: a year and a day (the chart has one bar per day).
pub const MAX_DAYS: i64 = 366;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    /// Included.
    pub to: NaiveDate,
    /// What was asked for and not used, for the page to say.
    pub note: Option<String>,
}

impl DayRange {
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}

fn parse(name: &str, value: Option<&str>, notes: &mut Vec<String>) -> Option<NaiveDate> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(day) => Some(day),
        Err(_) => {
            let shown: String = value.chars().take(40).collect();
            notes.push(format!("{name}=“{shown}” is not a date like 2026-12-01"));
            None
        }
    }
}

/// The range to show for these query values, `today` being the last day there is.
pub fn resolve(from: Option<&str>, to: Option<&str>, today: NaiveDate) -> DayRange {
    let mut notes = Vec::new();
    let from_asked = parse("from", from, &mut notes);
    let mut to_day = parse("to", to, &mut notes).unwrap_or(today);
    if to_day > today {
        notes.push(format!("to={to_day} is in the future"));
        to_day = today;
    }
    let default_from = to_day - Duration::days(DEFAULT_DAYS - 1);
    let from_day = match from_asked {
        Some(f) if f > to_day => {
            notes.push(format!("from={f} is after {to_day}"));
            default_from
        }
        Some(f) if (to_day - f).num_days() + 1 > MAX_DAYS => {
            notes.push(format!("ranges are at most {MAX_DAYS} days"));
            to_day - Duration::days(MAX_DAYS - 1)
        }
        Some(f) => f,
        None => default_from,
    };
    let note = (!notes.is_empty()).then(|| {
        format!(
            "Ignored: {}. Showing {from_day} to {to_day}.",
            notes.join("; ")
        )
    });
    DayRange {
        from: from_day,
        to: to_day,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn no_range_is_the_last_thirty_days() {
        let r = resolve(None, Some(""), day("2026-12-07"));
        assert_eq!(
            (r.from, r.to, r.days()),
            (day("2026-11-08"), day("2026-12-07"), 30)
        );
        assert_eq!(r.note, None);
    }

    #[test]
    fn a_valid_range_is_kept() {
        let r = resolve(Some("2026-10-01"), Some("2026-10-31"), day("2026-12-07"));
        assert_eq!(
            (r.from, r.to, r.days()),
            (day("2026-10-01"), day("2026-10-31"), 31)
        );
        assert_eq!(r.note, None);
        // `from` alone runs to today.
        let r = resolve(Some("2026-09-08"), None, day("2026-12-07"));
        assert_eq!(
            (r.from, r.to, r.days()),
            (day("2026-09-08"), day("2026-12-07"), 91)
        );
    }

    #[test]
    fn unusable_values_fall_back_with_a_note() {
        let today = day("2026-12-07");
        let r = resolve(Some("yesterday"), None, today);
        assert_eq!((r.from, r.to), (day("2026-11-08"), today));
        assert!(r
            .note
            .as_deref()
            .unwrap()
            .contains("from=“yesterday” is not a date"));
        let r = resolve(Some("2026-12-05"), Some("2026-12-01"), today);
        assert_eq!((r.from, r.to), (day("2026-11-02"), day("2026-12-01")));
        assert!(
            r.note.as_deref().unwrap().contains("is after"),
            "{:?}",
            r.note
        );
        let r = resolve(None, Some("2027-01-01"), today);
        assert_eq!(r.to, today);
        assert!(r.note.as_deref().unwrap().contains("in the future"));
        let r = resolve(Some("2020-01-01"), None, today);
        assert_eq!(r.days(), MAX_DAYS);
        assert!(r.note.as_deref().unwrap().contains("at most 366 days"));
        let r = resolve(Some("2026-02-30"), Some("<script>"), today);
        assert_eq!((r.from, r.to), (day("2026-11-08"), today));
        assert!(r.note.as_deref().unwrap().starts_with("Ignored: from="));
    }
}
