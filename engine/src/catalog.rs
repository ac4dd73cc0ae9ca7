//! The catalog: item validation, import (JSONL / CSV) with per-line error
//! reports, and upserts that re-embed only what changed.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bulk_load::rebuild_pays;
use crate::embed::TextKind;
use crate::error::{EngineError, Result};
use crate::list_limits::collapse_whitespace;
use crate::Engine;

pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
pub const MAX_TAGS: usize = 100;
pub const MAX_TAG_CHARS: usize = 100;
pub const MAX_ID_CHARS: usize = 200;
/// Largest `metadata` of one item, as compact JSON: it is stored and sent back
/// with the item, never searched, and an import holds every line's in memory.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Items embedded and written per transaction during an import.
pub const IMPORT_CHUNK: usize = 64;

/// One catalog item as a user supplies it (JSON field names; CSV uses the same headers).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    #[serde(alias = "external_id")]
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}

/// An item that passed validation, normalised, with the hash of the text it is embedded from.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidItem {
    pub external_id: String,
    pub title: String,
    pub description: String,
    pub language: String,
    pub source: String,
    pub tags: Vec<String>,
    pub url: Option<String>,
    pub metadata: serde_json::Value,
    pub content_hash: String,
}

/// Whether a NUL character occurs in any key or string of a JSON value.
fn json_has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(json_has_nul),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        _ => false,
    }
}

/// Length of a value as compact JSON, without building the text.
fn json_len(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn valid_language(code: &str) -> bool {
    let mut parts = code.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

impl ItemInput {
    /// Normalises and checks every field; the error says which field and how to fix it.
    pub fn validate(self) -> std::result::Result<ValidItem, String> {
        // PostgreSQL cannot store NUL in text or jsonb: say so here, per line,
        // instead of failing the whole chunk's transaction later.
        let texts = [
            ("id", Some(self.id.as_str())),
            ("title", Some(self.title.as_str())),
            ("description", Some(self.description.as_str())),
            ("language", self.language.as_deref()),
            ("source", self.source.as_deref()),
            ("url", self.url.as_deref()),
        ];
        for (field, text) in texts {
            if text.is_some_and(|t| t.contains('\0')) {
                return Err(format!(
                    "field '{field}' contains the NUL character (\\u0000): remove it"
                ));
            }
        }
        if self.tags.iter().any(|t| t.contains('\0')) {
            return Err("field 'tags' contains the NUL character (\\u0000): remove it".into());
        }
        if let Some(bytes) = self.metadata.as_ref().map(json_len) {
            if bytes > MAX_METADATA_BYTES {
                return Err(format!(
                    "field 'metadata' is {bytes} bytes of JSON; at most {MAX_METADATA_BYTES}: keep large data elsewhere and link it"
                ));
            }
        }
        if self.metadata.as_ref().is_some_and(json_has_nul) {
            return Err("field 'metadata' contains the NUL character (\\u0000): remove it".into());
        }
        let external_id = self.id.trim().to_string();
        if external_id.is_empty() {
            return Err("field 'id' is empty: every item needs a unique id".into());
        }
        if external_id.chars().count() > MAX_ID_CHARS {
            return Err(format!(
                "field 'id' is longer than {MAX_ID_CHARS} characters"
            ));
        }
        let title = collapse_whitespace(&self.title);
        if title.is_empty() {
            return Err("field 'title' is missing or empty".into());
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(format!(
                "field 'title' is longer than {MAX_TITLE_CHARS} characters"
            ));
        }
        let description = self.description.trim().to_string();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(format!(
                "field 'description' is longer than {MAX_DESCRIPTION_CHARS} characters"
            ));
        }
        let language = self
            .language
            .map(|l| l.trim().to_ascii_lowercase())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "en".into());
        if !valid_language(&language) {
            return Err(format!(
                "field 'language' is '{language}': use an ISO 639 code such as 'en' or 'pt-br'"
            ));
        }
        let source = self
            .source
            .map(|s| collapse_whitespace(&s))
            .unwrap_or_default();
        if source.chars().count() > 100 {
            return Err("field 'source' is longer than 100 characters".into());
        }
        // The raw count first: a line of 100,000 tags is refused without reading them.
        crate::list_limits::check_raw_len(self.tags.len(), MAX_TAGS, "tags")
            .map_err(|e| e.to_string())?;
        let mut seen = HashSet::new();
        let mut tags = Vec::new();
        for tag in self.tags {
            let tag = collapse_whitespace(&tag).to_lowercase();
            if tag.is_empty() {
                continue;
            }
            if tag.chars().count() > MAX_TAG_CHARS {
                return Err(format!("a tag is longer than {MAX_TAG_CHARS} characters"));
            }
            if seen.insert(tag.clone()) {
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(format!("more than {MAX_TAGS} tags"));
        }
        let url = self
            .url
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty());
        if let Some(u) = &url {
            if !(u.starts_with("http://") || u.starts_with("https://")) || u.chars().count() > 2000
            {
                return Err("field 'url' must be an http(s) URL of at most 2000 characters".into());
            }
        }
        let metadata = match self.metadata {
            None | Some(serde_json::Value::Null) => serde_json::json!({}),
            Some(v @ serde_json::Value::Object(_)) => v,
            Some(_) => return Err("field 'metadata' must be a JSON object".into()),
        };
        let mut item = ValidItem {
            external_id,
            title,
            description,
            language,
            source,
            tags,
            url,
            metadata,
            content_hash: String::new(),
        };
        item.content_hash = hex::encode(Sha256::digest(item.embedding_text().as_bytes()));
        Ok(item)
    }
}

impl ValidItem {
    /// The text the item is embedded from: what it is about, not where it comes from.
    pub fn embedding_text(&self) -> String {
        embedding_text(&self.title, &self.description, &self.tags)
    }
}

pub fn embedding_text(title: &str, description: &str, tags: &[String]) -> String {
    let mut text = title.to_string();
    if !description.is_empty() {
        text.push_str(". ");
        text.push_str(description);
    }
    if !tags.is_empty() {
        text.push_str(". ");
        text.push_str(&tags.join(", "));
    }
    text
}

/// A line of an import that was not imported, and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Rejection {
    pub line: usize,
    pub id: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ImportSummary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<Rejection>,
    /// Whether the import was a bulk load that ended by building the HNSW index.
    #[serde(default)]
    pub vector_index_rebuilt: bool,
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

fn parse_jsonl(mut reader: impl BufRead) -> std::io::Result<ParsedImport> {
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
                out.rejected
                    .push(reject(format!("invalid JSON: {e}"), None));
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

fn parse_csv(reader: impl BufRead) -> ParsedImport {
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

/// Progress of an import, reported after each chunk is committed.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct ImportProgress {
    pub done: usize,
    pub total: usize,
    pub embedded: usize,
}

/// A stored catalog item as shown to users.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub external_id: String,
    pub title: String,
    pub description: String,
    pub language: String,
    pub source: String,
    pub tags: Vec<String>,
    pub url: Option<String>,
}

const ITEM_COLUMNS: &str = "id, external_id, title, description, language, source, tags, url";

/// A chunk ready to be written: the items whose text (or model) changed with
/// their new vectors, and the items whose embedded text is unchanged.
struct EmbeddedChunk<'a> {
    fresh: Vec<(&'a ValidItem, Vec<f32>)>,
    same: Vec<&'a ValidItem>,
}

/// What writing one chunk changed.
#[derive(Default)]
struct ChunkCounts {
    added: usize,
    updated: usize,
    unchanged: usize,
    embedded: usize,
    items: usize,
}

impl Engine {
    /// Imports parsed items: unchanged ones (same text hash and model) are not
    /// re-embedded; each chunk is written in one transaction, so an interrupted
    /// import keeps what was reported done and a re-run resumes.
    ///
    /// Pipelined: chunk n+1 is looked up and embedded (on the embedding thread)
    /// while chunk n is written, so the embedder does not idle during writes.
    /// This relies on the external ids being unique within `parsed`, which
    /// [`parse_import`] guarantees: a chunk's lookup never depends on the
    /// write of the chunk before it.
    ///
    /// An import that brings many new vectors compared with the catalog's size is a
    /// bulk load ([`crate::bulk_load`]): the HNSW index is built once at the end.
    pub async fn import_items(
        &self,
        parsed: ParsedImport,
        on_progress: impl FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        let model_id = self.model_id().to_string();
        let bulk = if parsed.items.len() >= self.settings.bulk_load_min.max(1) {
            let fresh = self.count_fresh(&parsed, &model_id).await?;
            let existing = self.catalog_size().await?.max(0) as usize;
            rebuild_pays(fresh, existing, self.settings.bulk_load_min)
        } else {
            false
        };
        let load = if bulk {
            Some(self.begin_bulk_load().await?)
        } else {
            None
        };
        let imported = self.import_chunks(parsed, &model_id, on_progress).await;
        // Build the index even after a failure: what was committed stays and is searched.
        let rebuilt = match load {
            Some(load) => self.end_bulk_load(load).await,
            None => self.rebuild_deferred_indexes().await,
        };
        let mut summary = imported?;
        summary.vector_index_rebuilt = rebuilt? > 0;
        tracing::info!(
            added = summary.added,
            updated = summary.updated,
            unchanged = summary.unchanged,
            rejected = summary.rejected.len(),
            vector_index_rebuilt = summary.vector_index_rebuilt,
            "catalog import finished"
        );
        Ok(summary)
    }

    /// How many of `parsed`'s items need a new vector (new, changed text, other model).
    async fn count_fresh(&self, parsed: &ParsedImport, model_id: &str) -> Result<usize> {
        let (ids, hashes): (Vec<&str>, Vec<&str>) = parsed
            .items
            .iter()
            .map(|(_, i)| (i.external_id.as_str(), i.content_hash.as_str()))
            .unzip();
        let unchanged: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM unnest($1::text[], $2::text[]) AS t(external_id, content_hash)
               JOIN items ON items.external_id = t.external_id
              WHERE items.content_hash = t.content_hash AND items.model_id = $3",
        )
        .bind(&ids)
        .bind(&hashes)
        .bind(model_id)
        .fetch_one(self.jobs_pool())
        .await?;
        Ok(parsed.items.len().saturating_sub(unchanged.max(0) as usize))
    }

    /// The chunk loop of [`Engine::import_items`].
    async fn import_chunks(
        &self,
        parsed: ParsedImport,
        model_id: &str,
        mut on_progress: impl FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        let model_id = model_id.to_string();
        let mut summary = ImportSummary {
            rejected: parsed.rejected,
            ..Default::default()
        };
        let mut progress = ImportProgress {
            done: 0,
            total: parsed.items.len(),
            embedded: 0,
        };
        let mut record = |counts: ChunkCounts| {
            summary.added += counts.added;
            summary.updated += counts.updated;
            summary.unchanged += counts.unchanged;
            progress.done += counts.items;
            progress.embedded += counts.embedded;
            on_progress(progress);
        };
        let mut pending: Option<EmbeddedChunk> = None;
        for chunk in parsed.items.chunks(IMPORT_CHUNK) {
            let previous = pending.take();
            let write = async {
                match previous {
                    Some(ready) => self.write_chunk(ready, &model_id).await.map(Some),
                    None => Ok(None),
                }
            };
            let (written, embedded) = tokio::join!(write, self.embed_chunk(chunk, &model_id));
            // Report a committed chunk even when the next one failed to embed.
            if let Some(counts) = written? {
                record(counts);
            }
            pending = Some(embedded?);
        }
        if let Some(ready) = pending {
            record(self.write_chunk(ready, &model_id).await?);
        }
        Ok(summary)
    }

    /// Looks up which items of a chunk need a new vector and embeds those.
    async fn embed_chunk<'a>(
        &self,
        chunk: &'a [(usize, ValidItem)],
        model_id: &str,
    ) -> Result<EmbeddedChunk<'a>> {
        let ids: Vec<&str> = chunk.iter().map(|(_, i)| i.external_id.as_str()).collect();
        let existing: HashMap<String, (String, Option<String>)> =
            sqlx::query_as::<_, (String, String, Option<String>)>(
                "SELECT external_id, content_hash, model_id FROM items WHERE external_id = ANY($1)",
            )
            .bind(&ids)
            .fetch_all(self.jobs_pool())
            .await?
            .into_iter()
            .map(|(id, hash, model)| (id, (hash, model)))
            .collect();
        let (fresh, same): (Vec<&ValidItem>, Vec<&ValidItem>) =
            chunk.iter().map(|(_, i)| i).partition(|item| {
                existing.get(&item.external_id).is_none_or(|(hash, model)| {
                    *hash != item.content_hash || model.as_deref() != Some(model_id)
                })
            });
        let texts: Vec<String> = fresh.iter().map(|i| i.embedding_text()).collect();
        let vectors = self
            .embedder
            .embed_when_free(texts, TextKind::Passage)
            .await?;
        Ok(EmbeddedChunk {
            fresh: fresh.into_iter().zip(vectors).collect(),
            same,
        })
    }

    /// Writes one embedded chunk in one transaction.
    async fn write_chunk(&self, chunk: EmbeddedChunk<'_>, model_id: &str) -> Result<ChunkCounts> {
        let mut counts = ChunkCounts {
            embedded: chunk.fresh.len(),
            items: chunk.fresh.len() + chunk.same.len(),
            ..Default::default()
        };
        let mut tx = crate::store::begin_on(self.jobs_pool()).await?;
        for (item, vector) in chunk.fresh {
            let inserted: bool = sqlx::query_scalar(
                "INSERT INTO items (external_id, title, description, language, source, tags, url, metadata,
                                    embedding, model_id, content_hash, embedded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
                 ON CONFLICT (external_id) DO UPDATE SET
                    title = EXCLUDED.title, description = EXCLUDED.description, language = EXCLUDED.language,
                    source = EXCLUDED.source, tags = EXCLUDED.tags, url = EXCLUDED.url, metadata = EXCLUDED.metadata,
                    embedding = EXCLUDED.embedding, model_id = EXCLUDED.model_id,
                    content_hash = EXCLUDED.content_hash, embedded_at = now(), updated_at = now()
                 RETURNING (xmax = 0)",
            )
            .bind(&item.external_id)
            .bind(&item.title)
            .bind(&item.description)
            .bind(&item.language)
            .bind(&item.source)
            .bind(&item.tags)
            .bind(&item.url)
            .bind(&item.metadata)
            .bind(pgvector::Vector::from(vector))
            .bind(model_id)
            .bind(&item.content_hash)
            .fetch_one(&mut *tx)
            .await?;
            if inserted {
                counts.added += 1;
            } else {
                counts.updated += 1;
            }
        }
        for item in chunk.same {
            // Same embedded text, so the vector stands; the fields may still differ
            // (title "Heat" + tag "crime" and title "Heat" + description "crime" embed
            // the same text), so every field is written when any changed.
            let changed = sqlx::query(
                "UPDATE items SET title = $2, description = $3, tags = $4, language = $5, source = $6,
                                  url = $7, metadata = $8, updated_at = now()
                 WHERE external_id = $1
                   AND (title, description, tags, language, source, url, metadata)
                       IS DISTINCT FROM ($2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&item.external_id)
            .bind(&item.title)
            .bind(&item.description)
            .bind(&item.tags)
            .bind(&item.language)
            .bind(&item.source)
            .bind(&item.url)
            .bind(&item.metadata)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed > 0 {
                counts.updated += 1;
            } else {
                counts.unchanged += 1;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// Re-embeds every item whose vector was made by another model (or none),
    /// in chunks committed one by one (an interrupted reindex resumes where it
    /// stopped), embedding chunk n+1 while chunk n is written.
    /// Re-embedding most of the catalog is a bulk load ([`crate::bulk_load`]).
    pub async fn reindex(&self, on_progress: impl FnMut(ImportProgress)) -> Result<usize> {
        let model_id = self.model_id().to_string();
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM items WHERE model_id IS DISTINCT FROM $1")
                .bind(&model_id)
                .fetch_one(self.jobs_pool())
                .await?;
        let existing = self.catalog_size().await?.max(0) as usize;
        let load = if rebuild_pays(total.max(0) as usize, existing, self.settings.bulk_load_min) {
            Some(self.begin_bulk_load().await?)
        } else {
            None
        };
        let reindexed = self.reindex_chunks(total, &model_id, on_progress).await;
        match load {
            Some(load) => self.end_bulk_load(load).await?,
            None => self.rebuild_deferred_indexes().await?,
        };
        reindexed
    }

    /// The chunk loop of [`Engine::reindex`] over `total` items to re-embed.
    async fn reindex_chunks(
        &self,
        total: i64,
        model_id: &str,
        mut on_progress: impl FnMut(ImportProgress),
    ) -> Result<usize> {
        let model_id = model_id.to_string();
        let mut progress = ImportProgress {
            done: 0,
            total: total as usize,
            embedded: 0,
        };
        // Keyset pagination: the next chunk can be read before the previous one
        // is committed without reading the same rows twice.
        let mut after = 0i64;
        // (item id, content hash it was embedded from) and the new vectors.
        type Reembedded = (Vec<(i64, String)>, Vec<Vec<f32>>);
        let mut pending: Option<Reembedded> = None;
        loop {
            let rows: Vec<(i64, String, String, Vec<String>, String)> = sqlx::query_as(
                "SELECT id, title, description, tags, content_hash FROM items
                  WHERE model_id IS DISTINCT FROM $1 AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(&model_id)
            .bind(after)
            .bind(IMPORT_CHUNK as i64)
            .fetch_all(self.jobs_pool())
            .await?;
            if let Some(last) = rows.last() {
                after = last.0;
            }
            let previous = pending.take();
            let write = async {
                match previous {
                    Some((keys, vectors)) => self
                        .write_reindexed(&keys, vectors, &model_id)
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            };
            let keys: Vec<(i64, String)> = rows.iter().map(|r| (r.0, r.4.clone())).collect();
            let texts: Vec<String> = rows
                .iter()
                .map(|(_, t, d, tags, _)| embedding_text(t, d, tags))
                .collect();
            let (written, vectors) = tokio::join!(
                write,
                self.embedder.embed_when_free(texts, TextKind::Passage)
            );
            if let Some(n) = written? {
                progress.done += n;
                progress.embedded += n;
                on_progress(progress);
            }
            if rows.is_empty() {
                break;
            }
            pending = Some((keys, vectors?));
        }
        Ok(progress.done)
    }

    /// Stores re-embedded vectors in one transaction. An item whose text
    /// changed meanwhile (another content hash) keeps the vector its new text
    /// got from the import; it is not counted.
    async fn write_reindexed(
        &self,
        keys: &[(i64, String)],
        vectors: Vec<Vec<f32>>,
        model_id: &str,
    ) -> Result<usize> {
        let mut tx = crate::store::begin_on(self.jobs_pool()).await?;
        let mut n = 0;
        for ((id, hash), vector) in keys.iter().zip(vectors) {
            n += sqlx::query(
                "UPDATE items SET embedding = $2, model_id = $3, embedded_at = now()
                  WHERE id = $1 AND content_hash = $4",
            )
            .bind(id)
            .bind(pgvector::Vector::from(vector))
            .bind(model_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?
            .rows_affected() as usize;
        }
        tx.commit().await?;
        Ok(n)
    }

    pub async fn catalog_size(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(self.pool())
            .await?)
    }

    pub async fn item_by_external_id(&self, external_id: &str) -> Result<Item> {
        sqlx::query_as::<_, Item>(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE external_id = $1"
        ))
        .bind(external_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("item '{external_id}'")))
    }

    /// The items of these external ids that exist, in one query (unknown ids are left out).
    pub async fn items_by_external_ids(&self, external_ids: &[String]) -> Result<Vec<Item>> {
        Ok(sqlx::query_as::<_, Item>(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE external_id = ANY($1)"
        ))
        .bind(external_ids)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn delete_item(&self, external_id: &str) -> Result<()> {
        let n = sqlx::query("DELETE FROM items WHERE external_id = $1")
            .bind(external_id)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(EngineError::NotFound(format!("item '{external_id}'")));
        }
        Ok(())
    }

    /// Title search for pickers: prefix and substring matches, case-insensitive.
    pub async fn search_titles(&self, query: &str, limit: i64) -> Result<Vec<Item>> {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let pattern = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        Ok(sqlx::query_as::<_, Item>(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE lower(title) LIKE $1
             ORDER BY (lower(title) LIKE $2) DESC, length(title), id LIMIT $3"
        ))
        .bind(&pattern)
        .bind(format!("{}%", &pattern[1..]))
        .bind(limit.clamp(1, 50))
        .fetch_all(self.pool())
        .await?)
    }

    /// Search by meaning for pickers: the items nearest to the embedded query,
    /// with their cosine similarity.
    pub async fn search_semantic(&self, query: &str, limit: i64) -> Result<Vec<(Item, f32)>> {
        let q = query.trim();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let vector = self
            .embedder
            .embed_one(q.to_string(), TextKind::Query)
            .await?;
        #[derive(sqlx::FromRow)]
        struct Scored {
            #[sqlx(flatten)]
            item: Item,
            similarity: f64,
        }
        let limit = limit.clamp(1, 50);
        let mut tx = self
            .candidate_transaction(self.nearest_ef_search(limit as usize))
            .await?;
        let rows: Vec<Scored> = sqlx::query_as(&format!(
            "SELECT {ITEM_COLUMNS}, (1 - (embedding <=> $1))::float8 AS similarity FROM items
              WHERE embedding IS NOT NULL AND model_id = $2
              ORDER BY embedding <=> $1 LIMIT $3"
        ))
        .bind(pgvector::Vector::from(vector))
        .bind(self.model_id())
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.item, r.similarity as f32))
            .collect())
    }

    /// The languages and sources present in the catalog with their item counts,
    /// most common first (for filter menus).
    pub async fn catalog_facets(&self) -> Result<(Vec<(String, i64)>, Vec<(String, i64)>)> {
        let languages = sqlx::query_as(
            "SELECT language, count(*) FROM items GROUP BY language ORDER BY count(*) DESC, language LIMIT 200",
        )
        .fetch_all(self.pool())
        .await?;
        let sources = sqlx::query_as(
            "SELECT source, count(*) FROM items WHERE source <> '' GROUP BY source ORDER BY count(*) DESC, source LIMIT 200",
        )
        .fetch_all(self.pool())
        .await?;
        Ok((languages, sources))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(parsed.rejected[0].reason.starts_with("invalid JSON"));
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
    fn content_hash_follows_the_embedded_text_only() {
        let base = ItemInput {
            id: "x".into(),
            title: "T".into(),
            ..Default::default()
        };
        let a = base.clone().validate().unwrap();
        let b = ItemInput {
            url: Some("https://example.org/x".into()),
            ..base.clone()
        }
        .validate()
        .unwrap();
        let c = ItemInput {
            description: "other".into(),
            ..base
        }
        .validate()
        .unwrap();
        assert_eq!(a.content_hash, b.content_hash);
        assert_ne!(a.content_hash, c.content_hash);
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
    fn oversize_and_bad_urls_are_rejected() {
        let long = ItemInput {
            id: "x".into(),
            title: "t".repeat(MAX_TITLE_CHARS + 1),
            ..Default::default()
        };
        assert!(long.validate().unwrap_err().contains("title"));
        let url = ItemInput {
            id: "x".into(),
            title: "t".into(),
            url: Some("javascript:alert(1)".into()),
            ..Default::default()
        };
        assert!(url.validate().unwrap_err().contains("url"));
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
