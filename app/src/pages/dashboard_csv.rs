//! CSV downloads of the dashboard's tables (`/admin/export.csv?table=…`).

use crate::views::{DashboardView, RateRow};

/// The tables that can be downloaded: (name in the URL, first column's header).
pub const TABLES: [(&str, &str); 9] = [
    ("daily", "day"),
    ("by_rank", "rank"),
    ("by_source", "source"),
    ("by_language", "language"),
    ("by_surface", "surface"),
    ("by_ranker", "ranker model"),
    ("top_clicked", "item"),
    ("never_clicked", "item"),
    ("not_interested", "item"),
];

/// The download link of one table for the range shown.
pub fn csv_href(table: &str, from: &str, to: &str) -> String {
    format!("/admin/export.csv?table={table}&from={from}&to={to}")
}

/// One field: quoted when it holds a comma, quote or line break; a leading
/// `=`, `+`, `-`, `@` (a formula to a spreadsheet: catalog titles are anyone's
/// text) gets a `'` before it.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The table as CSV (`key,shown,clicked,rate`, the rate as a fraction;
/// `not_interested`: `item,id,not_interested,shown`), or None for a name not in
/// [`TABLES`].
pub fn table_csv(d: &DashboardView, table: &str) -> Option<String> {
    let (_, key) = TABLES.iter().find(|(name, _)| *name == table)?;
    if table == "not_interested" {
        let mut out = format!("{key},id,not_interested,shown\r\n");
        for r in &d.most_dismissed {
            out.push_str(&format!(
                "{},{},{},{}\r\n",
                field(&r.title),
                field(&r.id),
                r.dismissed,
                r.shown
            ));
        }
        return Some(out);
    }
    let rows: &[RateRow] = match table {
        "daily" => &d.daily,
        "by_rank" => &d.by_rank,
        "by_source" => &d.by_source,
        "by_language" => &d.by_language,
        "by_surface" => &d.by_surface,
        "by_ranker" => &d.by_ranker,
        "top_clicked" => &d.top_clicked,
        _ => &d.never_clicked,
    };
    let mut out = format!("{key},shown,clicked,rate\r\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{:.6}\r\n",
            field(&r.key),
            r.shown,
            r.clicked,
            r.rate
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("Paris, Texas (1984)"), "\"Paris, Texas (1984)\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-1"), "'-1");
        assert_eq!(field("plain"), "plain");
    }

    #[test]
    fn tables_are_csv_with_a_header_and_unknown_names_are_none() {
        let d = DashboardView {
            by_rank: vec![RateRow {
                key: "1".into(),
                shown: 4,
                clicked: 1,
                rate: 0.25,
            }],
            ..Default::default()
        };
        assert_eq!(
            table_csv(&d, "by_rank").unwrap(),
            "rank,shown,clicked,rate\r\n1,4,1,0.250000\r\n"
        );
        assert_eq!(
            table_csv(&d, "daily").unwrap(),
            "day,shown,clicked,rate\r\n"
        );
        assert_eq!(table_csv(&d, "../etc"), None);
        let d = DashboardView {
            most_dismissed: vec![crate::views::DismissedRow {
                id: "m-1".into(),
                title: "=Bad, film".into(),
                dismissed: 3,
                shown: 10,
            }],
            ..Default::default()
        };
        assert_eq!(
            table_csv(&d, "not_interested").unwrap(),
            "item,id,not_interested,shown\r\n\"'=Bad, film\",m-1,3,10\r\n"
        );
    }
}
