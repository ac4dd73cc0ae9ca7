//! The plain evaluation format: `items.jsonl` and `interactions.jsonl`.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// A catalogue item. Extra fields (url, metadata) are allowed and ignored here.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Item {
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
}

impl Item {
    /// All of an item's words, as the text baselines see it.
    pub fn full_text(&self) -> String {
        format!(
            "{} {} {}",
            self.title,
            self.description,
            self.tags.join(" ")
        )
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Interaction {
    pub user: String,
    pub item: String,
    pub ts: i64,
    #[serde(default)]
    pub rating: Option<f64>,
}

/// Items in file order plus interactions, with the items indexed by id.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub items: Vec<Item>,
    pub index: HashMap<String, usize>,
    pub interactions: Vec<Interaction>,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, DatasetError> {
    let file = std::fs::File::open(path).map_err(|source| DatasetError::Io {
        path: path.into(),
        source,
    })?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| DatasetError::Io {
            path: path.into(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| DatasetError::Line {
            path: path.into(),
            line: n + 1,
            reason: e.to_string(),
        })?);
    }
    Ok(out)
}

impl Dataset {
    /// Reads `dir/items.jsonl` and `dir/interactions.jsonl`.
    pub fn load(dir: &Path) -> Result<Self, DatasetError> {
        let items = read_jsonl(&dir.join("items.jsonl"))?;
        let interactions = read_jsonl(&dir.join("interactions.jsonl"))?;
        Self::new(items, interactions)
    }

    /// Checks ids are unique and every interaction names a known item.
    pub fn new(items: Vec<Item>, interactions: Vec<Interaction>) -> Result<Self, DatasetError> {
        let mut index = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if index.insert(item.id.clone(), i).is_some() {
                return Err(DatasetError::Invalid(format!(
                    "item id '{}' appears twice",
                    item.id
                )));
            }
        }
        if let Some(bad) = interactions.iter().find(|x| !index.contains_key(&x.item)) {
            return Err(DatasetError::Invalid(format!(
                "interaction of user '{}' names unknown item '{}'",
                bad.user, bad.item
            )));
        }
        Ok(Self {
            items,
            index,
            interactions,
        })
    }
}
