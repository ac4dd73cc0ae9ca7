//! Parsing an import document (JSON Lines or CSV) into valid items and
//! per-line rejections.

use std::collections::HashMap;
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::item::ValidItem;
use super::parse_csv::parse_csv;
use super::parse_jsonl::parse_jsonl;

/// A line of an import that was not imported, and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Rejection {
    pub line: usize,
    pub id: Option<String>,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportFormat {
    Jsonl,
    Csv,
}

impl ImportFormat {
    /// Guesses from a file name; JSON Lines unless it ends in `.csv`.
    pub fn from_name(name: &str) -> Self {
        if name.to_ascii_lowercase().ends_with(".csv") {
            ImportFormat::Csv
        } else {
            ImportFormat::Jsonl
        }
    }
}

/// Parsed input: valid items with their line numbers, and rejected lines.
#[derive(Debug, Default)]
pub struct ParsedImport {
    pub items: Vec<(usize, ValidItem)>,
    pub rejected: Vec<Rejection>,
}

/// Maximum size of one input line (an item). Larger lines are rejected, not truncated.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Parses and validates a whole input. Never fails as a whole because of a bad
/// line: each bad line becomes a `Rejection` with its 1-based line number.
pub fn parse_import(reader: impl BufRead, format: ImportFormat) -> std::io::Result<ParsedImport> {
    let mut parsed = match format {
        ImportFormat::Jsonl => parse_jsonl(reader)?,
        ImportFormat::Csv => parse_csv(reader),
    };
    // A duplicate id in one file is ambiguous: keep the first, reject the rest.
    let mut first_line: HashMap<String, usize> = HashMap::new();
    let mut kept = Vec::with_capacity(parsed.items.len());
    for (line, item) in parsed.items.drain(..) {
        if let Some(first) = first_line.get(&item.external_id) {
            parsed.rejected.push(Rejection {
                line,
                id: Some(item.external_id.clone()),
                reason: format!(
                    "duplicate id '{}' (first seen on line {first})",
                    item.external_id
                ),
            });
        } else {
            first_line.insert(item.external_id.clone(), line);
            kept.push((line, item));
        }
    }
    parsed.items = kept;
    parsed.rejected.sort_by_key(|r| r.line);
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::MAX_METADATA_BYTES;

    fn parse(text: &str, format: ImportFormat) -> ParsedImport {
        parse_import(std::io::Cursor::new(text.as_bytes()), format).unwrap()
    }

    #[test]
    fn jsonl_bad_lines_are_reported_by_number_and_good_lines_kept() {
        let input = concat!(
            r#"{"id":"a","title":"Alpha"}"#,
            "\n",
            "not json\n",
            r#"{"id":"b"}"#,
            "\n",
            "\n",
            r#"{"id":"c","title":"Gamma","tags":"oops"}"#,
            "\n",
            r#"{"id":"a","title":"Again"}"#,
            "\n",
            r#"{"id":"d","title":"Delta","language":"English"}"#,
            "\n",
            r#"{"id":"e","title":"  Epsilon  ","tags":["X","x"," y "]}"#,
            "\n",
        );
        let parsed = parse(input, ImportFormat::Jsonl);
        let good: Vec<_> = parsed
            .items
            .iter()
            .map(|(l, i)| (*l, i.external_id.as_str()))
            .collect();
        assert_eq!(good, vec![(1, "a"), (8, "e")]);
        let lines: Vec<usize> = parsed.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 5, 6, 7]);
        assert!(parsed.rejected[0]
            .reason
            .starts_with("invalid JSON at column "));
        // The line is the rejection's (2), never serde_json's "line 1" of a lone value.
        assert!(
            !parsed.rejected[0].reason.contains("line"),
            "{}",
            parsed.rejected[0].reason
        );
        assert!(
            parsed.rejected[1].reason.contains("title"),
            "{}",
            parsed.rejected[1].reason
        );
        assert!(parsed.rejected[2].reason.contains("invalid type"));
        assert!(parsed.rejected[3].reason.contains("first seen on line 1"));
        assert!(parsed.rejected[4].reason.contains("language"));
        let e = &parsed.items[1].1;
        assert_eq!(e.title, "Epsilon");
        assert_eq!(e.tags, vec!["x", "y"]);
    }

    #[test]
    fn csv_reads_tags_and_extra_columns_as_metadata() {
        let input =
            "id,title,description,tags,year\nm1,Heat,A heist,crime|drama,1995\nm2,,no title,,\n";
        let parsed = parse(input, ImportFormat::Csv);
        assert_eq!(parsed.items.len(), 1);
        let item = &parsed.items[0].1;
        assert_eq!(item.tags, vec!["crime", "drama"]);
        assert_eq!(item.metadata, serde_json::json!({"year": "1995"}));
        assert_eq!(parsed.rejected.len(), 1);
        assert_eq!(parsed.rejected[0].line, 3);
    }

    #[test]
    fn oversize_metadata_is_rejected_per_line() {
        let big = "x".repeat(MAX_METADATA_BYTES);
        let text = format!(
            "{{\"id\":\"a\",\"title\":\"A\",\"metadata\":{{\"k\":\"{big}\"}}}}\n{{\"id\":\"b\",\"title\":\"B\",\"metadata\":{{\"k\":\"small\"}}}}\n"
        );
        let parsed = parse(&text, ImportFormat::Jsonl);
        assert_eq!(parsed.items.len(), 1);
        assert_eq!(parsed.rejected.len(), 1);
        assert_eq!(parsed.rejected[0].line, 1);
        assert!(
            parsed.rejected[0].reason.contains("'metadata'"),
            "{}",
            parsed.rejected[0].reason
        );
    }

    #[test]
    fn csv_line_numbers_hold_for_crlf_files_and_quoted_newlines() {
        let input = "id,title\r\nm1,One\r\nm2,\r\nm3,\"Three\r\nlines\"\r\nm4,\r\n";
        let parsed = parse(input, ImportFormat::Csv);
        let lines: Vec<usize> = parsed.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 6], "{:?}", parsed.rejected);
        let good: Vec<_> = parsed
            .items
            .iter()
            .map(|(l, i)| (*l, i.title.as_str()))
            .collect();
        assert_eq!(good, vec![(2, "One"), (4, "Three lines")]);
    }

    #[test]
    fn csv_rows_with_another_number_of_fields_than_the_header_are_rejected() {
        let input = "id,title,description\nm1,Heat, the Movie,A heist\nm2,Alien\nm3,Ok,fine\n";
        let parsed = parse(input, ImportFormat::Csv);
        let ids: Vec<_> = parsed
            .items
            .iter()
            .map(|(_, i)| i.external_id.as_str())
            .collect();
        assert_eq!(ids, vec!["m3"]);
        let lines: Vec<usize> = parsed.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3]);
        assert!(
            parsed.rejected[0].reason.contains("4 fields"),
            "{}",
            parsed.rejected[0].reason
        );
        assert!(
            parsed.rejected[0].reason.contains("quote"),
            "{}",
            parsed.rejected[0].reason
        );
    }

    #[test]
    fn jsonl_first_line_may_start_with_a_byte_order_mark() {
        let input = "\u{feff}{\"id\":\"a\",\"title\":\"Alpha\"}\n";
        let parsed = parse(input, ImportFormat::Jsonl);
        assert_eq!(parsed.items.len(), 1, "{:?}", parsed.rejected);
    }

    #[test]
    fn nul_characters_are_rejected_per_line_naming_the_field() {
        let input = concat!(
            r#"{"id":"a","title":"Al\u0000pha"}"#,
            "\n",
            r#"{"id":"b","title":"Beta","metadata":{"k":["x\u0000"]}}"#,
            "\n",
            r#"{"id":"c","title":"Gamma"}"#,
            "\n",
        );
        let parsed = parse(input, ImportFormat::Jsonl);
        assert_eq!(parsed.items.len(), 1);
        assert_eq!(parsed.items[0].1.external_id, "c");
        assert!(
            parsed.rejected[0].reason.contains("'title'"),
            "{}",
            parsed.rejected[0].reason
        );
        assert!(
            parsed.rejected[1].reason.contains("'metadata'"),
            "{}",
            parsed.rejected[1].reason
        );
    }
}
