//! Catalog import from the browser (admins only). The browser reads the file
//! and sends JSON Lines in parts of at most [`PART_LINES`] lines, so the admin
//! sees real progress and the server never holds a huge request; each part
//! says which line it starts at, so rejected lines keep their file line numbers.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::views::ImportReport;

/// Lines per uploaded part (JSON Lines).
pub const PART_LINES: usize = 100;
/// Largest part the server accepts, in bytes (below the server's body limit).
pub const MAX_PART_BYTES: usize = 1_500_000;

/// Imports one part of a catalog file. `first_line` is the file line number of
/// the part's first line; `format` is "jsonl" or "csv" (a CSV file is one part);
/// `history` is the import history row the first part's answer named (None for
/// the first part), so a file sent in parts is one import in the history.
#[server(endpoint = "import_catalog", input = Json)]
pub async fn import_catalog(
    format: String,
    first_line: usize,
    content: String,
    #[server(default)] history: Option<i64>,
) -> Result<ImportReport, ServerFnError> {
    use crate::error::{engine_error, fail};
    use crate::session::{require_admin, state};
    use engine::catalog::ImportFormat;
    use http::StatusCode;
    require_admin().await?;
    if content.len() > MAX_PART_BYTES {
        return Err(fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "This part is {} bytes; the limit is {MAX_PART_BYTES}. Split the file or use `semrec import`.",
                content.len()
            ),
        ));
    }
    let format = match format.as_str() {
        "jsonl" => ImportFormat::Jsonl,
        "csv" => ImportFormat::Csv,
        other => {
            return Err(fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Unknown format '{other}': use jsonl or csv."),
            ))
        }
    };
    if first_line == 0 {
        return Err(fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "first_line starts at 1",
        ));
    }
    let st = state()?;
    let engine = &st.engine;
    let permit = engine.imports.try_enter().map_err(engine_error)?;
    let summary = engine
        .import_document(permit, content.into_bytes(), format)
        .await
        .map_err(engine_error)?;
    // Recorded after the import: a failure to record never fails what was imported.
    let history = match engine
        .store
        .add_import_part(history, &st.admin.user, (&summary).into())
        .await
    {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(error = %e, "recording a browser import in the history failed");
            None
        }
    };
    Ok(ImportReport {
        history,
        added: summary.added,
        updated: summary.updated,
        unchanged: summary.unchanged,
        rejected: summary
            .rejected
            .into_iter()
            .map(|r| crate::views::RejectedLine {
                line: r.line + first_line - 1,
                id: r.id,
                reason: r.reason,
            })
            .collect(),
    })
}

/// A file split into (first line number, text) parts.
pub fn split_parts(text: &str, csv: bool) -> Vec<(usize, String)> {
    if csv {
        // Quoted CSV fields may span lines: a CSV file travels whole.
        return vec![(1, text.to_string())];
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    let mut count = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if count == PART_LINES || (count > 0 && current.len() + line.len() > MAX_PART_BYTES) {
            parts.push((start, std::mem::take(&mut current)));
            start = i + 1;
            count = 0;
        }
        current.push_str(line);
        count += 1;
    }
    if count > 0 {
        parts.push((start, current));
    }
    parts
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Progress {
    done_lines: usize,
    total_lines: usize,
    running: bool,
    report: Option<ImportReport>,
    error: Option<String>,
}

/// An island: the only part of the dashboard that runs in the browser.
#[island]
pub fn ImportPanel() -> impl IntoView {
    let progress = RwSignal::new(Progress::default());
    // The form needs the WASM (the browser reads the file): the button stays
    // disabled in the server-rendered page until this island has hydrated.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    let file_input = NodeRef::<leptos::html::Input>::new();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // Only the browser reads files; the server never runs this handler.
        #[cfg(feature = "hydrate")]
        if !progress.get_untracked().running {
            start_import(file_input, progress);
        }
    };
    // Whole percent in integers: the island needs no float formatting of its own.
    let percent = move || {
        progress.with(|p| {
            (p.done_lines * 100)
                .checked_div(p.total_lines)
                .unwrap_or(0)
                .min(100)
        })
    };
    view! {
        <section class="panel import" aria-labelledby="import-title">
            <h2 id="import-title">"Import catalog items"</h2>
            <p class="hint">
                "JSON Lines (one item per line) or CSV with a header row. Fields: id, title, description, language, source, tags, url. "
                "Bad lines are reported with their line number; everything valid is imported."
            </p>
            <form class="row" on:submit=on_submit>
                <label for="import-file">"Catalog file (.jsonl or .csv)"</label>
                <input id="import-file" type="file" accept=".jsonl,.json,.ndjson,.csv,text/csv,application/x-ndjson" required node_ref=file_input/>
                <button type="submit" disabled=move || !ready.get() || progress.with(|p| p.running)>
                    {move || if progress.with(|p| p.running) { "Importing…" } else { "Import" }}
                </button>
            </form>
            <Show when=move || progress.with(|p| p.running || p.report.is_some())>
                <div class="import-progress">
                    <progress max="100" value=move || percent().to_string() aria-label="Import progress"></progress>
                    <span role="status">{move || progress.with(|p| format!("{} of {} lines processed", p.done_lines, p.total_lines))}</span>
                </div>
            </Show>
            {move || progress.with(|p| p.error.clone()).map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || progress.with(|p| p.report.clone().filter(|_| !p.running)).map(|r| view! { <ImportResult report=r/> })}
        </section>
    }
}

#[component]
fn ImportResult(report: ImportReport) -> impl IntoView {
    let rejected = report.rejected.len();
    view! {
        <div class="import-summary" role="status">
            <p>
                <strong>"Import finished: "</strong>
                <span data-count="added">{report.added}" added"</span>", "
                <span data-count="updated">{report.updated}" updated"</span>", "
                <span data-count="unchanged">{report.unchanged}" unchanged"</span>", "
                <span data-count="rejected">{rejected}" rejected"</span>"."
            </p>
            {(rejected > 0).then(|| view! {
                <table class="rejections">
                    <caption>"Rejected lines"</caption>
                    <thead><tr><th scope="col">"Line"</th><th scope="col">"Id"</th><th scope="col">"Reason"</th></tr></thead>
                    <tbody>
                        {report.rejected.into_iter().map(|r| view! {
                            <tr data-line=r.line><td>{r.line}</td><td>{r.id.unwrap_or_default()}</td><td>{r.reason}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
        </div>
    }
}

/// Reads the chosen file and uploads it part by part, updating `progress`.
#[cfg(feature = "hydrate")]
fn start_import(file_input: NodeRef<leptos::html::Input>, progress: RwSignal<Progress>) {
    use crate::error::user_message;
    use wasm_bindgen_futures::JsFuture;
    let Some(file) = file_input
        .get_untracked()
        .and_then(|i| i.files())
        .and_then(|f| f.get(0))
    else {
        progress.set(Progress {
            error: Some("Choose a file first.".into()),
            ..Default::default()
        });
        return;
    };
    let csv = file.name().to_ascii_lowercase().ends_with(".csv");
    progress.set(Progress {
        running: true,
        ..Default::default()
    });
    leptos::task::spawn_local(async move {
        let text = match JsFuture::from(file.text()).await {
            Ok(v) => v.as_string().unwrap_or_default(),
            Err(_) => {
                progress.set(Progress {
                    error: Some("The file could not be read (is it text?).".into()),
                    ..Default::default()
                });
                return;
            }
        };
        if csv && text.len() > MAX_PART_BYTES {
            progress.set(Progress {
                error: Some(format!(
                    "CSV files up to {} MB can be imported here; use `semrec import` for larger ones, or convert to JSON Lines.",
                    MAX_PART_BYTES / 1_000_000
                )),
                ..Default::default()
            });
            return;
        }
        let parts = split_parts(&text, csv);
        let total_lines = text.lines().count();
        let mut report = ImportReport::default();
        let mut history = None;
        progress.update(|p| p.total_lines = total_lines);
        for (first_line, content) in parts {
            let lines = content.lines().count();
            let format = if csv { "csv" } else { "jsonl" };
            match import_catalog(format.into(), first_line, content, history).await {
                Ok(r) => {
                    history = r.history.or(history);
                    report.added += r.added;
                    report.updated += r.updated;
                    report.unchanged += r.unchanged;
                    report.rejected.extend(r.rejected);
                }
                Err(e) => {
                    let done = progress.get_untracked().done_lines;
                    progress.set(Progress {
                        done_lines: done,
                        total_lines,
                        running: false,
                        error: Some(format!(
                            "Stopped at line {first_line}: {} Lines before it were imported.",
                            user_message(&e)
                        )),
                        report: Some(report),
                    });
                    return;
                }
            }
            progress.update(|p| {
                p.done_lines += lines;
                p.report = Some(report.clone());
            });
        }
        progress.update(|p| {
            p.running = false;
            p.done_lines = total_lines;
            p.report = Some(report);
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_parts_keep_file_line_numbers() {
        let text: String = (1..=250).map(|i| format!("{{\"n\":{i}}}\n")).collect();
        let parts = split_parts(&text, false);
        let starts: Vec<usize> = parts.iter().map(|p| p.0).collect();
        assert_eq!(starts, vec![1, 101, 201]);
        assert!(parts[1].1.starts_with("{\"n\":101}"));
        assert_eq!(parts[2].1.lines().count(), 50);
        assert_eq!(
            split_parts("a,b\n1,2\n", true),
            vec![(1, "a,b\n1,2\n".into())]
        );
    }
}
