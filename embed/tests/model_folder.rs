//! Loading model folders: clear errors for broken ones, semrec_model.json prefixes.
//!
//! Builds variants of the real model folder (`SEMREC_MODEL_DIR`, else
//! `<workspace>/models/all-MiniLM-L6-v2`) under the test temp dir; the weights are
//! symlinked, not copied.

use std::path::{Path, PathBuf};

use embed::{EmbedError, Pooling, SentenceEmbedder, TextKind};

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("SEMREC_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2")
        });
    assert!(
        dir.join("model.safetensors").is_file(),
        "model folder {} is missing or incomplete: run scripts/fetch-model.sh \
         (or set SEMREC_MODEL_DIR)",
        dir.display()
    );
    dir
}

const SMALL_FILES: [&str; 5] = [
    "config.json",
    "tokenizer.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
];

/// A copy of the model folder named `name`, without the files in `skip`.
fn variant(name: &str, skip: &[&str]) -> PathBuf {
    let src = model_dir();
    let dst = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("embedding_model_folder")
        .join(name);
    if dst.exists() {
        std::fs::remove_dir_all(&dst).unwrap();
    }
    std::fs::create_dir_all(dst.join("1_Pooling")).unwrap();
    for file in SMALL_FILES.iter().filter(|f| !skip.contains(f)) {
        std::fs::copy(src.join(file), dst.join(file)).unwrap();
    }
    if !skip.contains(&"model.safetensors") {
        let weights = src.join("model.safetensors").canonicalize().unwrap();
        std::os::unix::fs::symlink(weights, dst.join("model.safetensors")).unwrap();
    }
    dst
}

fn write(dir: &Path, file: &str, content: &str) {
    std::fs::write(dir.join(file), content).unwrap();
}

fn load_err(dir: &Path) -> EmbedError {
    match SentenceEmbedder::load(dir) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(err) => err,
    }
}

#[track_caller]
fn assert_files_error(err: &EmbedError, file: &str, field: Option<&str>) {
    match err {
        EmbedError::ModelFiles { path, reason, .. } => {
            assert!(
                path.ends_with(file),
                "error names {} instead of {file}: {err}",
                path.display()
            );
            if let Some(field) = field {
                assert!(
                    reason.contains(field),
                    "reason should name `{field}`: {err}"
                );
            }
        }
        other => panic!("expected ModelFiles for {file}, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(file),
        "message should name {file}: {message}"
    );
}

#[track_caller]
fn assert_unsupported(err: &EmbedError, file: &str, field: &str) {
    match err {
        EmbedError::Unsupported { path, reason } => {
            assert!(
                path.ends_with(file),
                "error names {} instead of {file}: {err}",
                path.display()
            );
            assert!(
                reason.contains(field),
                "reason should name `{field}`: {err}"
            );
        }
        other => panic!("expected Unsupported for {file}, got {other:?}"),
    }
    assert!(err.to_string().contains(file));
}

#[test]
fn missing_weights_name_model_safetensors() {
    let dir = variant("no-weights", &["model.safetensors"]);
    let err = load_err(&dir);
    assert_files_error(&err, "model.safetensors", None);
    println!("{err}");
}

#[test]
fn missing_tokenizer_and_config_are_named() {
    let err = load_err(&variant("no-tokenizer", &["tokenizer.json"]));
    assert_files_error(&err, "tokenizer.json", None);
    let err = load_err(&variant("no-config", &["config.json"]));
    assert_files_error(&err, "config.json", None);
    let err = load_err(&model_dir().join("does-not-exist"));
    assert!(matches!(err, EmbedError::ModelFiles { .. }), "{err:?}");
}

#[test]
fn invalid_files_name_file_and_field() {
    let dir = variant("bad-json", &[]);
    write(&dir, "config.json", "{ not json");
    assert_files_error(&load_err(&dir), "config.json", Some("invalid JSON"));

    let dir = variant("missing-field", &[]);
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("hidden_size");
    write(&dir, "config.json", &config.to_string());
    assert_files_error(&load_err(&dir), "config.json", Some("hidden_size"));

    let dir = variant("bad-max-seq", &[]);
    write(
        &dir,
        "sentence_bert_config.json",
        r#"{"max_seq_length": "long"}"#,
    );
    assert_files_error(
        &load_err(&dir),
        "sentence_bert_config.json",
        Some("max_seq_length"),
    );

    let dir = variant("bad-semrec", &[]);
    write(
        &dir,
        "semrec_model.json",
        r#"{"id": "x", "query_prefx": "query: "}"#,
    );
    assert_files_error(&load_err(&dir), "semrec_model.json", Some("query_prefx"));
}

#[test]
fn unsupported_settings_are_refused_clearly() {
    let dir = variant("max-pooling", &[]);
    write(
        &dir,
        "1_Pooling/config.json",
        r#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": false,
            "pooling_mode_mean_tokens": false, "pooling_mode_max_tokens": true}"#,
    );
    assert_unsupported(
        &load_err(&dir),
        "1_Pooling/config.json",
        "pooling_mode_max_tokens",
    );

    let dir = variant("dense-module", &[]);
    write(
        &dir,
        "modules.json",
        r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
            {"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#,
    );
    assert_unsupported(&load_err(&dir), "modules.json", "Dense");

    let dir = variant("roberta", &[]);
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    write(
        &dir,
        "config.json",
        &text.replace("\"bert\"", "\"roberta\""),
    );
    assert_unsupported(&load_err(&dir), "config.json", "model_type");
}

#[test]
fn folder_settings_are_read() {
    // max_seq_length is capped by max_position_embeddings; cls pooling is honoured.
    let dir = variant("cls-long", &[]);
    write(
        &dir,
        "sentence_bert_config.json",
        r#"{"max_seq_length": 100000}"#,
    );
    write(
        &dir,
        "1_Pooling/config.json",
        r#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
    );
    std::fs::remove_file(dir.join("modules.json")).unwrap();
    let e = SentenceEmbedder::load(&dir).unwrap();
    assert_eq!(e.info().id, "cls-long");
    assert_eq!(e.info().max_seq_length, 512);
    assert_eq!(e.details().pooling, Pooling::Cls);
    assert!(!e.details().normalize_module);
    let v = e.embed(&["aircraft", ""], TextKind::Passage).unwrap();
    for v in &v {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}

#[test]
fn semrec_model_json_sets_id_and_prefixes() {
    let plain = SentenceEmbedder::load(&model_dir()).unwrap();
    let dir = variant("e5-style", &[]);
    write(
        &dir,
        "semrec_model.json",
        r#"{"id": "prefixed-minilm", "query_prefix": "query: ", "passage_prefix": "passage: "}"#,
    );
    let prefixed = SentenceEmbedder::load(&dir).unwrap();
    let info = prefixed.info();
    assert_eq!(info.id, "prefixed-minilm");
    assert_eq!(info.query_prefix, "query: ");
    assert_eq!(info.passage_prefix, "passage: ");

    let text = "jazz and vinyl records";
    let q = prefixed.embed(&[text], TextKind::Query).unwrap().remove(0);
    let p = prefixed
        .embed(&[text], TextKind::Passage)
        .unwrap()
        .remove(0);
    let want_q = plain
        .embed(&[&format!("query: {text}")], TextKind::Query)
        .unwrap()
        .remove(0);
    let want_p = plain
        .embed(&[&format!("passage: {text}")], TextKind::Passage)
        .unwrap()
        .remove(0);
    let diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    };
    assert!(diff(&q, &want_q) <= 1e-5, "query prefix not applied");
    assert!(diff(&p, &want_p) <= 1e-5, "passage prefix not applied");
    assert!(
        diff(&q, &p) > 1e-3,
        "query and passage must differ with different prefixes"
    );
    assert_eq!(
        prefixed.count_tokens(text, TextKind::Query).unwrap(),
        plain.count_tokens(text, TextKind::Query).unwrap() + 2,
        "`query: ` adds two tokens"
    );
}
