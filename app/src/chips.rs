//! Chip inputs of the profile editor. Each keeps its chips in a hidden form
//! field (one per line) and has a text box of its own, so the form also works
//! before hydration: whatever is typed in the box is saved too.

use std::time::Duration;

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

use crate::views::{HistoryChip, PickOption};

/// Catalog items for the consumed-contents picker: title matches first, then
/// items close in meaning (the query is embedded like a profile).
#[server(endpoint = "search_catalog")]
pub async fn search_catalog(query: String) -> Result<Vec<PickOption>, ServerFnError> {
    use crate::error::engine_error;
    use crate::session::{require_user, state};
    // Embedding costs CPU: only signed-in users may search.
    require_user().await?;
    let q = query.trim();
    if q.chars().count() < 2 || q.len() > 200 {
        return Ok(Vec::new());
    }
    let engine = &state()?.engine;
    let mut out: Vec<PickOption> = engine
        .search_titles(q, 5)
        .await
        .map_err(engine_error)?
        .into_iter()
        .map(|i| PickOption {
            id: i.external_id,
            title: i.title,
            matched_by: "title".into(),
        })
        .collect();
    for (item, _) in engine.search_semantic(q, 6).await.map_err(engine_error)? {
        if out.len() >= 8 {
            break;
        }
        if !out.iter().any(|o| o.id == item.external_id) {
            out.push(PickOption {
                id: item.external_id,
                title: item.title,
                matched_by: "meaning".into(),
            });
        }
    }
    Ok(out)
}

fn add_unique(list: &mut Vec<String>, text: &str) {
    let t = text.trim();
    if !t.is_empty() && !list.iter().any(|c| c.eq_ignore_ascii_case(t)) {
        list.push(t.to_string());
    }
}

/// Free-text chips (interests, classes): Enter or comma adds, × or Backspace removes.
#[component]
pub fn ChipField(
    label: &'static str,
    /// Hidden field with the chips, one per line.
    name: &'static str,
    /// Name of the text box (saved too, for typing without JavaScript).
    entry_name: &'static str,
    initial: Vec<String>,
    placeholder: &'static str,
) -> impl IntoView {
    let chips = RwSignal::new(initial);
    // The text box's value is read from the element, not mirrored in a signal: a
    // `prop:value` binding would empty the box at hydration and lose whatever was
    // typed before the WASM arrived.
    let entry = NodeRef::<leptos::html::Input>::new();
    let typed = move || entry.get_untracked().map(|i| i.value()).unwrap_or_default();
    let entry_id = format!("{name}-entry");
    let hint_id = format!("{name}-hint");
    let commit = move || {
        let text = typed();
        chips.update(|c| {
            for part in crate::views::list_entries(&text) {
                add_unique(c, &part);
            }
        });
        if let Some(input) = entry.get_untracked() {
            input.set_value("");
        }
    };
    let on_key = move |ev: KeyboardEvent| match ev.key().as_str() {
        // Inside double quotes a comma is part of the entry ("Paris, Texas").
        "," if crate::views::open_quote(&typed()) => {}
        "Enter" | "," => {
            if !typed().trim().is_empty() {
                ev.prevent_default();
                commit();
            } else if ev.key() == "," {
                ev.prevent_default();
            }
        }
        "Backspace" if typed().is_empty() => {
            chips.update(|c| {
                c.pop();
            });
        }
        _ => {}
    };
    view! {
        <div class="field">
            <label for=entry_id.clone()>{label}</label>
            <div class="chip-box">
                <ul class="chips" aria-label=format!("Added {}", label.to_ascii_lowercase())>
                    <For each=move || chips.get() key=|c| c.clone() let:chip>
                        <li class="chip">
                            <span>{chip.clone()}</span>
                            <button type="button" class="chip-remove" aria-label=format!("Remove {chip}")
                                on:click={
                                    let chip = chip.clone();
                                    move |_| chips.update(|c| c.retain(|x| *x != chip))
                                }>"×"</button>
                        </li>
                    </For>
                </ul>
                <input id=entry_id name=entry_name type="text" autocomplete="off" placeholder=placeholder
                    aria-describedby=hint_id.clone()
                    node_ref=entry
                    on:keydown=on_key/>
            </div>
            <input type="hidden" name=name value=move || chips.get().join("\n")/>
            <small class="hint" id=hint_id>"Press Enter or comma to add (a comma in double quotes stays: \"Paris, Texas\"); Backspace in an empty box removes the last."</small>
        </div>
    }
}

/// Consumed contents: search-as-you-type over the catalog (by title and by
/// meaning), or Enter to keep what was typed as free text.
#[component]
pub fn HistoryPicker(initial: Vec<HistoryChip>) -> impl IntoView {
    let chips = RwSignal::new(initial);
    // What is typed, for the list's visibility; the element holds the text itself
    // (see ChipField: no `prop:value`, so hydration keeps text typed before it).
    let entry = RwSignal::new(String::new());
    let input = NodeRef::<leptos::html::Input>::new();
    let typed = move || input.get_untracked().map(|i| i.value()).unwrap_or_default();
    let generation = StoredValue::new(0u64);
    let active = RwSignal::new(None::<usize>);
    let open = RwSignal::new(false);
    // Plain signals rather than a resource: a resource read here would make the
    // surrounding <Suspense> fall back (and drop the form) on every keystroke.
    let results = RwSignal::new(Vec::<PickOption>::new());
    let search_error = RwSignal::new(None::<String>);
    let options = move || results.get();
    let add = move |chip: HistoryChip| {
        // A search still under way must not refill the list just closed.
        generation.set_value(generation.get_value() + 1);
        chips.update(|c| {
            if !c.iter().any(|x| {
                x.id == chip.id && (chip.id.is_some() || x.title.eq_ignore_ascii_case(&chip.title))
            }) {
                c.push(chip);
            }
        });
        entry.set(String::new());
        if let Some(input) = input.get_untracked() {
            input.set_value("");
        }
        results.set(Vec::new());
        search_error.set(None);
        active.set(None);
        open.set(false);
    };
    let on_input = move |ev| {
        let v = event_target_value(&ev);
        entry.set(v.clone());
        open.set(true);
        active.set(None);
        let g = generation.get_value() + 1;
        generation.set_value(g);
        set_timeout(
            move || {
                if generation.get_value() != g {
                    return;
                }
                if v.trim().chars().count() < 2 {
                    results.set(Vec::new());
                    search_error.set(None);
                    return;
                }
                leptos::task::spawn_local(async move {
                    let r = search_catalog(v).await;
                    // A newer keystroke has its own search under way: drop this answer.
                    if generation.get_value() != g {
                        return;
                    }
                    match r {
                        Ok(list) => {
                            results.set(list);
                            search_error.set(None);
                        }
                        Err(e) => search_error.set(Some(crate::error::user_message(&e))),
                    }
                });
            },
            Duration::from_millis(180),
        );
    };
    let on_key = move |ev: KeyboardEvent| {
        let n = options().len();
        match ev.key().as_str() {
            "ArrowDown" if n > 0 => {
                ev.prevent_default();
                open.set(true);
                active.update(|a| *a = Some(a.map_or(0, |i| (i + 1) % n)));
            }
            "ArrowUp" if n > 0 => {
                ev.prevent_default();
                active.update(|a| *a = Some(a.map_or(n - 1, |i| (i + n - 1) % n)));
            }
            "Escape" => {
                open.set(false);
                active.set(None);
            }
            "Enter" => {
                let picked = active
                    .get_untracked()
                    .filter(|_| open.get_untracked())
                    .and_then(|i| options().get(i).cloned());
                if let Some(o) = picked {
                    ev.prevent_default();
                    add(HistoryChip {
                        id: Some(o.id),
                        title: o.title,
                    });
                } else if !typed().trim().is_empty() {
                    ev.prevent_default();
                    add(HistoryChip {
                        id: None,
                        title: typed().trim().to_string(),
                    });
                }
            }
            _ => {}
        }
    };
    let encoded = move || {
        chips
            .get()
            .iter()
            .map(HistoryChip::encode)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let expanded = move || open.get() && !options().is_empty() && !entry.get().trim().is_empty();
    view! {
        <div class="field picker">
            <label for="history-entry">"Things you enjoyed"</label>
            <div class="chip-box">
                <ul class="chips" aria-label="Added things you enjoyed">
                    <For each=move || chips.get() key=|c| c.clone() let:chip>
                        <li class="chip" class:from-catalog=chip.id.is_some()
                            title=if chip.id.is_some() { "From the catalog" } else { "Free text" }>
                            <span>{chip.title.clone()}</span>
                            <button type="button" class="chip-remove" aria-label=format!("Remove {}", chip.title)
                                on:click={
                                    let chip = chip.clone();
                                    move |_| chips.update(|c| c.retain(|x| *x != chip))
                                }>"×"</button>
                        </li>
                    </For>
                </ul>
                <input id="history-entry" name="history_entry" type="text" autocomplete="off"
                    role="combobox" aria-autocomplete="list" aria-controls="history-options"
                    aria-expanded=move || expanded().to_string()
                    aria-activedescendant=move || active.get().filter(|_| expanded()).map(|i| format!("history-option-{i}"))
                    aria-describedby="history-hint"
                    placeholder="Search the catalog or type anything"
                    node_ref=input
                    on:input=on_input
                    on:keydown=on_key
                    on:focus=move |_| open.set(true)
                    on:blur=move |_| open.set(false)/>
            </div>
            <ul id="history-options" class="options" role="listbox" aria-label="Catalog matches" hidden=move || !expanded()>
                {move || options().into_iter().enumerate().map(|(i, o)| {
                    let chip = HistoryChip { id: Some(o.id.clone()), title: o.title.clone() };
                    let how = if o.matched_by == "title" { "title match" } else { "similar meaning" };
                    view! {
                        <li id=format!("history-option-{i}") role="option" class="option"
                            aria-selected=move || (active.get() == Some(i)).to_string()
                            // mousedown, not click: the input's blur would close the list first.
                            on:mousedown=move |ev| { ev.prevent_default(); add(chip.clone()); }>
                            <span>{o.title.clone()}</span>
                            <small class=format!("how {}", o.matched_by)>{how}</small>
                        </li>
                    }
                }).collect_view()}
            </ul>
            {move || search_error.get().map(|e| view! { <p class="error small" role="alert">{e}</p> })}
            <input type="hidden" name="history" value=encoded/>
            <small class="hint" id="history-hint">"Pick a catalog match with the arrow keys and Enter, or press Enter to keep your own words."</small>
        </div>
    }
}
