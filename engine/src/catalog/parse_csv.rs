//! CSV with a header row: the item's fields as columns, other columns as metadata.

use std::io::BufRead;

use super::item::ItemInput;
use super::parse::{ParsedImport, Rejection};

/// Reads CRLF line ends as LF. csv-core counts the line of a CRLF-ended record
/// only when the next record starts (rust-csv issue 395), which put every
/// rejection of a Windows-made file one line too early. A lone CR stays.
struct CrlfAsLf<R> {
    inner: R,
    held_cr: bool,
}

impl<R: BufRead> std::io::Read for CrlfAsLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n == 0 && !out.is_empty() {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                if std::mem::take(&mut self.held_cr) {
                    out[0] = b'\r';
                    return Ok(1);
                }
                return Ok(0);
            }
            let mut used = 0;
            for &b in buf {
                if n == out.len() {
                    break;
                }
                if std::mem::take(&mut self.held_cr) && b != b'\n' {
                    out[n] = b'\r';
                    n += 1;
                    if n == out.len() {
                        break; // `b` is read again next time
                    }
                }
                used += 1;
                if b == b'\r' {
                    self.held_cr = true;
                } else {
                    out[n] = b;
                    n += 1;
                }
            }
            self.inner.consume(used);
        }
        Ok(n)
    }
}

pub(super) fn parse_csv(reader: impl BufRead) -> ParsedImport {
    let mut out = ParsedImport::default();
    // Flexible, so a row with a wrong field count is reported below with its id.
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(CrlfAsLf {
            inner: reader,
            held_cr: false,
        });
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            out.rejected.push(Rejection {
                line: 1,
                id: None,
                reason: format!("unreadable CSV header: {e}"),
            });
            return out;
        }
    };
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let (id_col, title_col) = (col("id").or_else(|| col("external_id")), col("title"));
    if id_col.is_none() || title_col.is_none() {
        out.rejected.push(Rejection {
            line: 1,
            id: None,
            reason: "the CSV header needs at least the columns 'id' and 'title'".into(),
        });
        return out;
    }
    let known = [
        "id",
        "external_id",
        "title",
        "description",
        "language",
        "source",
        "tags",
        "url",
    ];
    let extra: Vec<(usize, String)> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !known.contains(&h.trim().to_ascii_lowercase().as_str()))
        .map(|(i, h)| (i, h.trim().to_string()))
        .collect();
    for record in rdr.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                out.rejected.push(Rejection {
                    line,
                    id: None,
                    reason: format!("invalid CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let get = |c: Option<usize>| c.and_then(|i| record.get(i)).unwrap_or("").to_string();
        if record.len() != headers.len() {
            // Fields would land in the wrong columns (an unquoted comma in a title).
            out.rejected.push(Rejection {
                line,
                id: Some(get(id_col).trim().to_string()).filter(|s| !s.is_empty()),
                reason: format!(
                    "the row has {} fields but the header has {}: quote fields that contain commas, e.g. \"Heat, the Movie\"",
                    record.len(),
                    headers.len()
                ),
            });
            continue;
        }
        let opt = |name: &str| Some(get(col(name))).filter(|s| !s.trim().is_empty());
        // Tags in one cell, separated by '|' or ';'.
        let tags = get(col("tags"))
            .split(['|', ';'])
            .map(str::to_string)
            .filter(|t| !t.trim().is_empty())
            .collect();
        let metadata: serde_json::Map<String, serde_json::Value> = extra
            .iter()
            .filter_map(|(i, name)| {
                record
                    .get(*i)
                    .filter(|v| !v.is_empty())
                    .map(|v| (name.clone(), v.into()))
            })
            .collect();
        let input = ItemInput {
            id: get(id_col),
            title: get(title_col),
            description: get(col("description")),
            language: opt("language"),
            source: opt("source"),
            tags,
            url: opt("url"),
            metadata: Some(serde_json::Value::Object(metadata)),
        };
        let id = Some(input.id.trim().to_string()).filter(|s| !s.is_empty());
        match input.validate() {
            Ok(item) => out.items.push((line, item)),
            Err(reason) => out.rejected.push(Rejection { line, id, reason }),
        }
    }
    out
}
