//! Catalogs for the tests to import.

use engine::catalog::{ImportFormat, ItemInput, ParsedImport};

/// The fixture catalog's JSONL text.
pub fn fixture_jsonl() -> String {
    std::fs::read_to_string(crate::paths::fixture_catalog_path()).unwrap()
}

/// The fixture catalog, parsed.
pub fn fixture_catalog() -> ParsedImport {
    let file = std::fs::File::open(crate::paths::fixture_catalog_path()).unwrap();
    engine::catalog::parse_import(std::io::BufReader::new(file), ImportFormat::Jsonl).unwrap()
}

/// `n` short valid items with ids `{prefix}0`, `{prefix}1`, … on four topics, as
/// parsed from lines 1..=n.
pub fn note_items(prefix: &str, n: usize) -> ParsedImport {
    let topics = ["gliders", "sourdough", "chess openings", "tide pools"];
    ParsedImport {
        items: (0..n)
            .map(|i| {
                let item = ItemInput {
                    id: format!("{prefix}{i}"),
                    title: format!("Note {i} on {}", topics[i % topics.len()]),
                    ..Default::default()
                }
                .validate()
                .unwrap();
                (i + 1, item)
            })
            .collect(),
        rejected: vec![],
    }
}
