//! JSON Lines: one item object per line.

use std::io::BufRead;

use super::item::ItemInput;
use super::parse::{ParsedImport, Rejection, MAX_LINE_BYTES};

pub(super) fn parse_jsonl(mut reader: impl BufRead) -> std::io::Result<ParsedImport> {
    let mut out = ParsedImport::default();
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let reject = |reason: String, id: Option<String>| Rejection {
            line: line_no,
            id,
            reason,
        };
        if buf.len() > MAX_LINE_BYTES {
            out.rejected.push(reject(
                format!("line is larger than {MAX_LINE_BYTES} bytes"),
                None,
            ));
            continue;
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            out.rejected
                .push(reject("line is not valid UTF-8".into(), None));
            continue;
        };
        // A byte-order mark (Windows editors write one) is not part of line 1's JSON.
        let text = if line_no == 1 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                out.rejected.push(reject(invalid_json(&e), None));
                continue;
            }
        };
        let id = value
            .get("id")
            .or_else(|| value.get("external_id"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        match serde_json::from_value::<ItemInput>(value) {
            Ok(input) => match input.validate() {
                Ok(item) => out.items.push((line_no, item)),
                Err(reason) => out.rejected.push(reject(reason, id)),
            },
            Err(e) => out.rejected.push(reject(describe_serde_error(&e), id)),
        }
    }
    Ok(out)
}

/// serde_json's syntax error without its "at line 1 column N": the line is the
/// file's (the rejection's own), only the column is the error's.
fn invalid_json(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    format!("invalid JSON at column {}: {msg}", e.column())
}

fn describe_serde_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    // serde_json appends " at line 1 column N", which refers to the value, not the file.
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    if msg.starts_with("missing field")
        || msg.starts_with("unknown field")
        || msg.starts_with("invalid type")
    {
        msg.to_string()
    } else {
        format!("invalid item: {msg}")
    }
}
