//! Reading a sentence-transformers model folder: which files, which settings.
//!
//! Every failure names the file and, where there is one, the field.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_transformers::models::bert::Config as BertConfig;
use serde::Deserialize;
use serde_json::Value;

use super::error::EmbedError;

/// The optional semrec-specific file in a model folder.
pub const SEMREC_MODEL_FILE: &str = "semrec_model.json";

/// Used when `sentence_bert_config.json` does not give `max_seq_length`.
const DEFAULT_MAX_SEQ_LENGTH: usize = 512;

/// How token vectors become one sentence vector (`1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean of the token vectors, padding excluded (`pooling_mode_mean_tokens`).
    Mean,
    /// The first (`[CLS]`) token's vector (`pooling_mode_cls_token`).
    Cls,
}

/// Everything read from the folder except the weights and the tokenizer.
#[derive(Debug, Clone)]
pub(crate) struct FolderConfig {
    pub id: String,
    pub bert: BertConfig,
    pub pooling: Pooling,
    /// Effective limit: `max_seq_length` capped by `max_position_embeddings`.
    pub max_seq_length: usize,
    pub do_lower_case: bool,
    pub normalize_module: bool,
    pub query_prefix: String,
    pub passage_prefix: String,
    /// Where config.json, tokenizer.json and model.safetensors live (the folder
    /// itself unless modules.json puts the Transformer module in a subfolder).
    pub transformer_dir: PathBuf,
}

pub(crate) fn read_json(path: &Path, required: bool) -> Result<Option<Value>, EmbedError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return if required {
                Err(EmbedError::files(path, "file is missing"))
            } else {
                Ok(None)
            };
        }
        Err(err) => {
            return Err(EmbedError::files_from(
                path,
                "cannot read file",
                Arc::new(err),
            ))
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|err| EmbedError::files_from(path, "invalid JSON", Arc::new(err)))
}

fn field_type_error(path: &Path, field: &str, expected: &str) -> EmbedError {
    EmbedError::files(path, format!("field `{field}` must be {expected}"))
}

fn get_bool(obj: &Value, path: &Path, field: &str) -> Result<Option<bool>, EmbedError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(field_type_error(path, field, "true or false")),
    }
}

fn get_usize(obj: &Value, path: &Path, field: &str) -> Result<Option<usize>, EmbedError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|n| Some(n as usize))
            .ok_or_else(|| field_type_error(path, field, "a non-negative integer")),
    }
}

fn get_str<'a>(obj: &'a Value, path: &Path, field: &str) -> Result<Option<&'a str>, EmbedError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(field_type_error(path, field, "a string")),
    }
}

/// The modules of the sentence-transformers pipeline (`modules.json`).
struct Modules {
    transformer_dir: PathBuf,
    /// `None`: no modules.json and no `1_Pooling` folder → mean pooling, as
    /// sentence-transformers does for a plain Hugging Face model.
    pooling_config: Option<PathBuf>,
    normalize: bool,
}

fn read_modules(dir: &Path) -> Result<Modules, EmbedError> {
    let path = dir.join("modules.json");
    let Some(value) = read_json(&path, false)? else {
        let pooling = dir.join("1_Pooling").join("config.json");
        return Ok(Modules {
            transformer_dir: dir.to_path_buf(),
            pooling_config: pooling.exists().then_some(pooling),
            normalize: false,
        });
    };
    let Value::Array(entries) = value else {
        return Err(EmbedError::files(&path, "expected a JSON array of modules"));
    };
    let mut transformer_dir = None;
    let mut pooling_config = None;
    let mut normalize = false;
    for (i, entry) in entries.iter().enumerate() {
        let Some(kind) = get_str(entry, &path, "type")? else {
            return Err(EmbedError::files(
                &path,
                format!("module {i}: field `type` is missing"),
            ));
        };
        let sub = get_str(entry, &path, "path")?.unwrap_or("");
        let short = kind.rsplit('.').next().unwrap_or(kind);
        match short {
            "Transformer" if transformer_dir.is_none() && pooling_config.is_none() => {
                transformer_dir = Some(dir.join(sub));
            }
            "Pooling" if transformer_dir.is_some() && pooling_config.is_none() => {
                pooling_config = Some(dir.join(sub).join("config.json"));
            }
            "Normalize" if pooling_config.is_some() && !normalize => normalize = true,
            _ => {
                return Err(EmbedError::unsupported(
                    &path,
                    format!(
                        "module {i} has field `type` = \"{kind}\"; supported pipeline: \
                         Transformer, Pooling, optional Normalize (in that order)"
                    ),
                ))
            }
        }
    }
    let Some(transformer_dir) = transformer_dir else {
        return Err(EmbedError::files(
            &path,
            "no module with `type` …models.Transformer",
        ));
    };
    let Some(pooling_config) = pooling_config else {
        return Err(EmbedError::files(
            &path,
            "no module with `type` …models.Pooling",
        ));
    };
    Ok(Modules {
        transformer_dir,
        pooling_config: Some(pooling_config),
        normalize,
    })
}

fn read_bert_config(path: &Path) -> Result<BertConfig, EmbedError> {
    let mut value = read_json(path, true)?.expect("required");
    if !value.is_object() {
        return Err(EmbedError::files(path, "expected a JSON object"));
    }
    if let Some(model_type) = get_str(&value, path, "model_type")? {
        if model_type != "bert" {
            return Err(EmbedError::unsupported(
                path,
                format!(
                    "field `model_type` = \"{model_type}\"; only \"bert\" models are supported"
                ),
            ));
        }
    }
    if let Some(pos) = get_str(&value, path, "position_embedding_type")? {
        if pos != "absolute" {
            return Err(EmbedError::unsupported(
                path,
                format!(
                    "field `position_embedding_type` = \"{pos}\"; only \"absolute\" is supported"
                ),
            ));
        }
    }
    // Map Hugging Face activation names onto candle's.
    if let Some(act) = get_str(&value, path, "hidden_act")? {
        let mapped = match act {
            "gelu" => "gelu",
            "relu" => "relu",
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" | "geluapproximate" => "geluapproximate",
            other => {
                return Err(EmbedError::unsupported(
                    path,
                    format!("field `hidden_act` = \"{other}\"; supported: gelu, gelu_new, relu"),
                ))
            }
        };
        value["hidden_act"] = Value::String(mapped.to_string());
    }
    let config: BertConfig = serde_json::from_value(value)
        .map_err(|err| EmbedError::files_from(path, "not a BERT config", Arc::new(err)))?;
    for (field, n) in [
        ("hidden_size", config.hidden_size),
        ("num_attention_heads", config.num_attention_heads),
        ("num_hidden_layers", config.num_hidden_layers),
        ("max_position_embeddings", config.max_position_embeddings),
        ("vocab_size", config.vocab_size),
    ] {
        if n == 0 {
            return Err(EmbedError::files(
                path,
                format!("field `{field}` must be > 0"),
            ));
        }
    }
    if (config.hidden_size / config.num_attention_heads) * config.num_attention_heads
        != config.hidden_size
    {
        return Err(EmbedError::files(
            path,
            "field `hidden_size` must be a multiple of `num_attention_heads`",
        ));
    }
    Ok(config)
}

fn read_pooling(path: Option<&Path>, hidden_size: usize) -> Result<Pooling, EmbedError> {
    let Some(path) = path else {
        tracing::warn!(
            "model folder has no modules.json nor 1_Pooling/config.json: using mean pooling"
        );
        return Ok(Pooling::Mean);
    };
    let value = read_json(path, true)?.expect("required");
    let Value::Object(map) = &value else {
        return Err(EmbedError::files(path, "expected a JSON object"));
    };
    if let Some(dim) = get_usize(&value, path, "word_embedding_dimension")? {
        if dim != hidden_size {
            return Err(EmbedError::files(
                path,
                format!("field `word_embedding_dimension` = {dim} but config.json has hidden_size {hidden_size}"),
            ));
        }
    }
    if get_bool(&value, path, "include_prompt")? == Some(false) {
        return Err(EmbedError::unsupported(
            path,
            "field `include_prompt` = false (prompt tokens excluded from pooling) is not supported",
        ));
    }
    let mut chosen: Option<(Pooling, &str)> = None;
    for field in map.keys() {
        if !field.starts_with("pooling_mode_") || !get_bool(&value, path, field)?.unwrap_or(false) {
            continue;
        }
        let mode = match field.as_str() {
            "pooling_mode_mean_tokens" => Pooling::Mean,
            "pooling_mode_cls_token" => Pooling::Cls,
            other => {
                return Err(EmbedError::unsupported(
                    path,
                    format!("field `{other}` = true; only mean or cls pooling is supported"),
                ))
            }
        };
        if let Some((_, first)) = chosen {
            return Err(EmbedError::unsupported(
                path,
                format!("fields `{first}` and `{field}` are both true; combined pooling is not supported"),
            ));
        }
        chosen = Some((mode, field));
    }
    chosen.map(|(mode, _)| mode).ok_or_else(|| {
        EmbedError::unsupported(
            path,
            "no `pooling_mode_*` field is true; need pooling_mode_mean_tokens or pooling_mode_cls_token",
        )
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SemrecModelFile {
    id: Option<String>,
    query_prefix: Option<String>,
    passage_prefix: Option<String>,
}

/// Reads the folder's configuration files. Does not touch the weights or tokenizer.
pub(crate) fn read_folder(dir: &Path) -> Result<FolderConfig, EmbedError> {
    let meta = std::fs::metadata(dir)
        .map_err(|err| EmbedError::files_from(dir, "model folder not readable", Arc::new(err)))?;
    if !meta.is_dir() {
        return Err(EmbedError::files(dir, "not a folder"));
    }
    let modules = read_modules(dir)?;
    let tdir = &modules.transformer_dir;

    let bert = read_bert_config(&tdir.join("config.json"))?;
    let pooling = read_pooling(modules.pooling_config.as_deref(), bert.hidden_size)?;

    let sbert_path = tdir.join("sentence_bert_config.json");
    let (max_seq_length, do_lower_case) = match read_json(&sbert_path, false)? {
        Some(v) => {
            let max = get_usize(&v, &sbert_path, "max_seq_length")?;
            if max == Some(0) {
                return Err(EmbedError::files(
                    &sbert_path,
                    "field `max_seq_length` must be > 0",
                ));
            }
            (
                max.unwrap_or(DEFAULT_MAX_SEQ_LENGTH),
                get_bool(&v, &sbert_path, "do_lower_case")?.unwrap_or(false),
            )
        }
        None => (DEFAULT_MAX_SEQ_LENGTH, false),
    };
    let max_seq_length = max_seq_length.min(bert.max_position_embeddings);

    // Prompts saved by newer sentence-transformers versions; semrec_model.json wins.
    let st_path = dir.join("config_sentence_transformers.json");
    let (mut query_prefix, mut passage_prefix) = (String::new(), String::new());
    if let Some(v) = read_json(&st_path, false)? {
        if let Some(prompts) = v.get("prompts").filter(|p| !p.is_null()) {
            if !prompts.is_object() {
                return Err(field_type_error(&st_path, "prompts", "an object"));
            }
            if let Some(q) = get_str(prompts, &st_path, "query")? {
                query_prefix = q.to_string();
            }
            for key in ["passage", "document"] {
                if let Some(p) = get_str(prompts, &st_path, key)? {
                    passage_prefix = p.to_string();
                    break;
                }
            }
        }
    }

    let mut id = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());

    let semrec_path = dir.join(SEMREC_MODEL_FILE);
    if let Some(v) = read_json(&semrec_path, false)? {
        let file: SemrecModelFile = serde_json::from_value(v)
            .map_err(|err| EmbedError::files(&semrec_path, err.to_string()))?;
        if let Some(file_id) = file.id {
            if file_id.trim().is_empty() {
                return Err(EmbedError::files(
                    &semrec_path,
                    "field `id` must not be empty",
                ));
            }
            id = file_id;
        }
        if let Some(q) = file.query_prefix {
            query_prefix = q;
        }
        if let Some(p) = file.passage_prefix {
            passage_prefix = p;
        }
    }

    Ok(FolderConfig {
        id,
        bert,
        pooling,
        max_seq_length,
        do_lower_case,
        normalize_module: modules.normalize,
        query_prefix,
        passage_prefix,
        transformer_dir: modules.transformer_dir,
    })
}
