//! Keeps the engine's "collaborative model: …" log events with the moment they were
//! logged, so the collaborative benchmark can split a refresh into reading the pairs,
//! fitting and storing from the engine's own progress lines (the refresh reports no
//! split otherwise).

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

/// Only events whose message starts so are kept.
const PREFIX: &str = "collaborative model:";

static EVENTS: Mutex<Vec<Captured>> = Mutex::new(Vec::new());

/// One kept event.
#[derive(Clone, Debug)]
pub struct Captured {
    pub at: Instant,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

impl Captured {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Takes the events kept so far, leaving none.
pub fn take() -> Vec<Captured> {
    std::mem::take(&mut *EVENTS.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The [`Layer`] that keeps them.
pub struct CaptureCollaborative;

impl<S: tracing::Subscriber> Layer<S> for CaptureCollaborative {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut v = Visitor(Captured {
            at: Instant::now(),
            message: String::new(),
            fields: Vec::new(),
        });
        event.record(&mut v);
        if v.0.message.starts_with(PREFIX) {
            EVENTS.lock().unwrap_or_else(|e| e.into_inner()).push(v.0);
        }
    }
}

struct Visitor(Captured);

impl Visit for Visitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Visitor {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.0.message = value;
        } else {
            self.0.fields.push((field.name().to_string(), value));
        }
    }
}
