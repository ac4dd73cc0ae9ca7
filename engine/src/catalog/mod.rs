//! The catalog: item validation, import (JSONL / CSV) with per-line error
//! reports, and upserts that re-embed only what changed.
//!
//! - [`item`]: what an item is and how it is validated;
//! - [`parse`] (with `parse_jsonl`, `parse_csv`): import documents to valid items
//!   and per-line rejections;
//! - [`import`]: writing parsed items, re-embedding only what changed;
//! - `reindex`: re-embedding what another model embedded;
//! - [`queries`]: reading and deleting items;
//! - [`labels`]: the genres cards show.

pub mod import;
pub mod item;
pub mod labels;
pub mod parse;
mod parse_csv;
mod parse_jsonl;
pub mod queries;
mod reindex;

pub use import::{ImportProgress, ImportSummary, IMPORT_CHUNK};
pub use item::{
    embedding_text, ItemInput, ValidItem, MAX_DESCRIPTION_CHARS, MAX_ID_CHARS, MAX_METADATA_BYTES,
    MAX_TAGS, MAX_TAG_CHARS, MAX_TITLE_CHARS,
};
pub use parse::{parse_import, ImportFormat, ParsedImport, Rejection, MAX_LINE_BYTES};
pub use queries::Item;
