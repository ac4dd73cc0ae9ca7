//! Interactions as first-class data: what users did with items (consumed, rated,
//! clicked, dismissed), imported from JSONL or CSV with per-line error reports.
//! Imports are idempotent (the same event is stored once) and resumable (each chunk
//! commits by itself, so rerunning a stopped import adds only what is missing).

use std::collections::HashMap;
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::catalog::{ImportFormat, Rejection, MAX_ID_CHARS, MAX_LINE_BYTES};
use crate::error::Result;
use crate::Engine;

/// Longest user reference.
pub const MAX_USER_CHARS: usize = 200;
/// Interactions written per transaction.
pub const INTERACTION_CHUNK: usize = 5_000;
/// Largest |weight| or |rating|.
pub const MAX_WEIGHT: f64 = 1000.0;

/// What a user did with an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    Consumed,
    Rated,
    Clicked,
    Dismissed,
}

impl InteractionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consumed => "consumed",
            Self::Rated => "rated",
            Self::Clicked => "clicked",
            Self::Dismissed => "dismissed",
        }
    }

    fn parse(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "consumed" => Ok(Self::Consumed),
            "rated" => Ok(Self::Rated),
            "clicked" => Ok(Self::Clicked),
            "dismissed" => Ok(Self::Dismissed),
            other => Err(format!(
                "unknown kind '{other}': use consumed, rated, clicked or dismissed"
            )),
        }
    }
}

/// A timestamp as clients send it: Unix seconds or RFC 3339 text.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Timestamp {
    Seconds(i64),
    Text(String),
}

/// One interaction as a client supplies it (JSON fields; CSV uses the same headers).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InteractionInput {
    pub user: String,
    pub item: String,
    pub ts: Timestamp,
    /// A rating; the kind defaults to `rated` when it is given.
    #[serde(default)]
    pub rating: Option<f64>,
    /// A weight for other kinds (default 1).
    #[serde(default)]
    pub weight: Option<f64>,
    #[serde(default)]
    pub kind: Option<String>,
}

/// An interaction that passed validation (its item not yet looked up).
#[derive(Clone, Debug, PartialEq)]
pub struct ValidInteraction {
    pub user: String,
    pub item: String,
    pub ts: chrono::DateTime<chrono::Utc>,
    pub weight: f32,
    pub kind: InteractionKind,
}

fn parse_ts(ts: &Timestamp) -> std::result::Result<chrono::DateTime<chrono::Utc>, String> {
    match ts {
        Timestamp::Seconds(s) => chrono::DateTime::from_timestamp(*s, 0)
            .filter(|t| t.timestamp() >= 0 && t.timestamp() <= 253_402_300_799)
            .ok_or_else(|| format!("ts {s} is not a Unix time in seconds between 1970 and 9999")),
        Timestamp::Text(t) => {
            let t = t.trim();
            if let Ok(s) = t.parse::<i64>() {
                return parse_ts(&Timestamp::Seconds(s));
            }
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    format!("ts '{t}' is neither Unix seconds nor RFC 3339 (2024-05-01T12:00:00Z)")
                })
        }
    }
}

impl InteractionInput {
    /// Trims and checks every field; the error says what to fix.
    pub fn validate(self) -> std::result::Result<ValidInteraction, String> {
        let user = self.user.trim().to_string();
        let item = self.item.trim().to_string();
        if user.is_empty() || user.chars().count() > MAX_USER_CHARS || user.contains('\0') {
            return Err(format!(
                "user must have 1–{MAX_USER_CHARS} characters (no NUL)"
            ));
        }
        if item.is_empty() || item.chars().count() > MAX_ID_CHARS || item.contains('\0') {
            return Err(format!(
                "item must have 1–{MAX_ID_CHARS} characters (no NUL)"
            ));
        }
        let ts = parse_ts(&self.ts)?;
        if self.rating.is_some() && self.weight.is_some() {
            return Err("give a rating or a weight, not both".into());
        }
        let kind = match &self.kind {
            Some(k) if !k.trim().is_empty() => InteractionKind::parse(k)?,
            _ if self.rating.is_some() => InteractionKind::Rated,
            _ => InteractionKind::Consumed,
        };
        if kind == InteractionKind::Rated && self.rating.is_none() {
            return Err("kind 'rated' needs a rating".into());
        }
        let weight = self.rating.or(self.weight).unwrap_or(1.0);
        if !weight.is_finite() || weight.abs() > MAX_WEIGHT {
            return Err(format!(
                "rating/weight must be a finite number within ±{MAX_WEIGHT}, got {weight}"
            ));
        }
        Ok(ValidInteraction {
            user,
            item,
            ts,
            weight: weight as f32,
            kind,
        })
    }
}

/// Parsed input: valid interactions with their line numbers, and rejected lines.
#[derive(Debug, Default)]
pub struct ParsedInteractions {
    pub interactions: Vec<(usize, ValidInteraction)>,
    pub rejected: Vec<Rejection>,
}

/// Parses and validates a whole input; each bad line becomes a [`Rejection`] with
/// its 1-based line number, never a failure of the whole.
pub fn parse_interactions(
    reader: impl BufRead,
    format: ImportFormat,
) -> std::io::Result<ParsedInteractions> {
    let mut out = match format {
        ImportFormat::Jsonl => parse_jsonl(reader)?,
        ImportFormat::Csv => parse_csv(reader),
    };
    out.rejected.sort_by_key(|r| r.line);
    Ok(out)
}

fn parse_jsonl(mut reader: impl BufRead) -> std::io::Result<ParsedInteractions> {
    let mut out = ParsedInteractions::default();
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line += 1;
        let reject = |reason: String| Rejection {
            line,
            id: None,
            reason,
        };
        if buf.len() > MAX_LINE_BYTES {
            out.rejected.push(reject(format!(
                "line is larger than {MAX_LINE_BYTES} bytes"
            )));
            continue;
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            out.rejected.push(reject("line is not valid UTF-8".into()));
            continue;
        };
        let text = if line == 1 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<InteractionInput>(text) {
            Ok(input) => match input.validate() {
                Ok(v) => out.interactions.push((line, v)),
                Err(reason) => out.rejected.push(reject(reason)),
            },
            Err(e) => {
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                out.rejected
                    .push(reject(format!("invalid interaction: {msg}")));
            }
        }
    }
    Ok(out)
}

fn parse_csv(reader: impl BufRead) -> ParsedInteractions {
    let mut out = ParsedInteractions::default();
    // CRLF files: csv-core counts a CRLF record's line late; strip CRs per line first.
    let text: Vec<u8> = {
        let mut all = Vec::new();
        let mut r = reader;
        if let Err(e) = std::io::Read::read_to_end(&mut r, &mut all) {
            out.rejected.push(Rejection {
                line: 0,
                id: None,
                reason: format!("cannot read the input: {e}"),
            });
            return out;
        }
        all.into_iter().filter(|&b| b != b'\r').collect()
    };
    let text = text
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(&text)
        .to_vec();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_slice());
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
    let known = ["user", "item", "ts", "rating", "weight", "kind"];
    if let Some(bad) = headers
        .iter()
        .find(|h| !known.contains(&h.trim().to_ascii_lowercase().as_str()))
    {
        out.rejected.push(Rejection {
            line: 1,
            id: None,
            reason: format!(
                "unknown CSV column '{bad}': the header is user,item,ts and optionally rating or weight, and kind"
            ),
        });
        return out;
    }
    let (user, item, ts) = (col("user"), col("item"), col("ts"));
    if user.is_none() || item.is_none() || ts.is_none() {
        out.rejected.push(Rejection {
            line: 1,
            id: None,
            reason: "the CSV header needs the columns user, item and ts".into(),
        });
        return out;
    }
    for record in rdr.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                out.rejected.push(Rejection {
                    line,
                    id: None,
                    reason: format!("invalid CSV: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() != headers.len() {
            out.rejected.push(Rejection {
                line,
                id: None,
                reason: format!(
                    "the row has {} fields but the header has {}",
                    record.len(),
                    headers.len()
                ),
            });
            continue;
        }
        let get = |c: Option<usize>| c.and_then(|i| record.get(i)).unwrap_or("").trim();
        let number = |name: &str| -> std::result::Result<Option<f64>, String> {
            let v = get(col(name));
            if v.is_empty() {
                return Ok(None);
            }
            v.parse::<f64>()
                .map(Some)
                .map_err(|_| format!("{name} '{v}' is not a number"))
        };
        let parsed = number("rating").and_then(|rating| {
            number("weight").and_then(|weight| {
                InteractionInput {
                    user: get(user).to_string(),
                    item: get(item).to_string(),
                    ts: Timestamp::Text(get(ts).to_string()),
                    rating,
                    weight,
                    kind: Some(get(col("kind")).to_string()).filter(|k| !k.is_empty()),
                }
                .validate()
            })
        });
        match parsed {
            Ok(v) => out.interactions.push((line, v)),
            Err(reason) => out.rejected.push(Rejection {
                line,
                id: None,
                reason,
            }),
        }
    }
    out
}

/// What an interactions import did.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct InteractionImportSummary {
    /// Newly stored.
    pub added: usize,
    /// Already stored (same user, item, kind and time): a re-import adds nothing.
    pub unchanged: usize,
    pub rejected: Vec<Rejection>,
}

/// Progress of an interactions import, after each committed chunk.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct InteractionProgress {
    pub done: usize,
    pub total: usize,
}

impl Engine {
    /// Stores parsed interactions. Lines naming an item that is not in the catalog are
    /// rejected with their line number; everything valid is stored.
    pub async fn import_interactions(
        &self,
        parsed: ParsedInteractions,
        mut on_progress: impl FnMut(InteractionProgress),
    ) -> Result<InteractionImportSummary> {
        let mut summary = InteractionImportSummary {
            rejected: parsed.rejected,
            ..Default::default()
        };
        let total = parsed.interactions.len();
        let mut done = 0;
        for chunk in parsed.interactions.chunks(INTERACTION_CHUNK) {
            let mut names: Vec<&str> = chunk.iter().map(|(_, v)| v.item.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let ids: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
                "SELECT external_id, id FROM items WHERE external_id = ANY($1)",
            )
            .bind(&names)
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .collect();
            let (mut users, mut items, mut kinds, mut times, mut weights) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (line, v) in chunk {
                match ids.get(&v.item) {
                    Some(&id) => {
                        users.push(v.user.as_str());
                        items.push(id);
                        kinds.push(v.kind.as_str());
                        times.push(v.ts);
                        weights.push(v.weight);
                    }
                    None => summary.rejected.push(Rejection {
                        line: *line,
                        id: Some(v.item.clone()),
                        reason: format!("unknown item '{}': import the item first", v.item),
                    }),
                }
            }
            let added = sqlx::query(
                "INSERT INTO interactions (user_ref, item_id, kind, ts, weight)
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::timestamptz[], $5::real[])
                 ON CONFLICT (user_ref, item_id, kind, ts) DO NOTHING",
            )
            .bind(&users)
            .bind(&items)
            .bind(&kinds)
            .bind(&times)
            .bind(&weights)
            .execute(self.pool())
            .await?
            .rows_affected() as usize;
            summary.added += added;
            summary.unchanged += users.len() - added;
            done += chunk.len();
            on_progress(InteractionProgress { done, total });
        }
        summary.rejected.sort_by_key(|r| r.line);
        Ok(summary)
    }

    /// Stored interactions (all kinds).
    pub async fn interaction_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM interactions")
            .fetch_one(self.pool())
            .await?)
    }
}

/// Records a user's picked history items as `consumed` interactions (their handle as
/// `user_ref`, the pick's time as `ts`), inside the caller's transaction: what users
/// do in semrec lands in the same store as what is imported. Items already recorded
/// as consumed by this user are not added again; items later removed from the
/// profile keep their interaction (it happened).
pub(crate) async fn record_profile_history(
    conn: &mut sqlx::PgConnection,
    user_id: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO interactions (user_ref, item_id, kind, ts)
         SELECT u.handle, h.item_id, 'consumed', h.consumed_at
         FROM profile_history h JOIN users u ON u.id = h.user_id
         WHERE h.user_id = $1 AND h.item_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM interactions x
                           WHERE x.user_ref = u.handle AND x.item_id = h.item_id AND x.kind = 'consumed')
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records a signed-in user's click as a `clicked` interaction, inside the caller's
/// transaction (anonymous clicks have no user to record). The click itself stays in
/// `clicks`, which the dashboard counts; interactions never count there.
pub(crate) async fn record_click(
    conn: &mut sqlx::PgConnection,
    impression_id: uuid::Uuid,
    item_id: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO interactions (user_ref, item_id, kind, ts)
         SELECT u.handle, $2, 'clicked', now()
         FROM impressions im JOIN users u ON u.id = im.user_id WHERE im.id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(impression_id)
    .bind(item_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jsonl(text: &str) -> ParsedInteractions {
        parse_interactions(std::io::Cursor::new(text), ImportFormat::Jsonl).unwrap()
    }

    fn csv(text: &str) -> ParsedInteractions {
        parse_interactions(std::io::Cursor::new(text), ImportFormat::Csv).unwrap()
    }

    fn lines(p: &ParsedInteractions) -> Vec<usize> {
        p.rejected.iter().map(|r| r.line).collect()
    }

    #[test]
    fn jsonl_bad_lines_are_reported_with_their_numbers() {
        let p = jsonl(concat!(
            "{\"user\":\"u1\",\"item\":\"a\",\"ts\":1260759108,\"rating\":4.5}\n",
            "not json\n",
            "\n",
            "{\"user\":\"u1\",\"item\":\"b\"}\n",
            "{\"user\":\" \",\"item\":\"b\",\"ts\":1}\n",
            "{\"user\":\"u1\",\"item\":\"b\",\"ts\":1,\"rating\":1,\"weight\":2}\n",
            "{\"user\":\"u1\",\"item\":\"b\",\"ts\":1,\"kind\":\"liked\"}\n",
            "{\"user\":\"u1\",\"item\":\"b\",\"ts\":\"yesterday\"}\n",
            "{\"user\":\"u1\",\"item\":\"b\",\"ts\":1,\"weight\":1e9}\n",
            "{\"user\":\"u1\",\"item\":\"b\",\"ts\":1,\"kind\":\"rated\"}\n",
            "{\"user\":\"u1\",\"item\":\"b\",\"ts\":1,\"extra\":true}\n",
            "{\"user\":\"u2\",\"item\":\"c\",\"ts\":\"2024-05-01T12:00:00Z\",\"kind\":\"dismissed\"}\n",
        ));
        assert_eq!(lines(&p), vec![2, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(p.interactions.len(), 2);
        let (line, first) = &p.interactions[0];
        assert_eq!(*line, 1);
        assert_eq!(first.kind, InteractionKind::Rated);
        assert_eq!(first.weight, 4.5);
        assert_eq!(first.ts.timestamp(), 1_260_759_108);
        let (line, last) = &p.interactions[1];
        assert_eq!(
            (*line, last.kind, last.weight),
            (12, InteractionKind::Dismissed, 1.0)
        );
        assert!(p.rejected[0].reason.contains("invalid interaction"));
        assert!(p.rejected[1].reason.contains("missing field `ts`"));
    }

    #[test]
    fn csv_takes_optional_columns_and_reports_lines() {
        let p = csv(concat!(
            "user,item,ts,rating\r\n",
            "u1,a,1260759108,4\r\n",
            "u1,b,1260759109,lots\r\n",
            "u1,c\r\n",
            "u2,a,2024-05-01T12:00:00Z,\r\n",
        ));
        assert_eq!(lines(&p), vec![3, 4]);
        assert_eq!(p.interactions[0].1.kind, InteractionKind::Rated);
        assert_eq!(p.interactions[1].0, 5);
        assert_eq!(p.interactions[1].1.kind, InteractionKind::Consumed);
        let bad = csv("user,item,when\nu1,a,1\n");
        assert_eq!(lines(&bad), vec![1]);
        let missing = csv("user,item\nu1,a\n");
        assert_eq!(lines(&missing), vec![1]);
    }
}
