//! What a catalog item is: as supplied, validated (limits, URL schemes, language
//! codes, NUL characters), and the text it is embedded from.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::list_limits::collapse_whitespace;

pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
pub const MAX_TAGS: usize = 100;
pub const MAX_TAG_CHARS: usize = 100;
pub const MAX_ID_CHARS: usize = 200;
/// Largest `metadata` of one item, as compact JSON: it is stored and sent back
/// with the item, never searched, and an import holds every line's in memory.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
