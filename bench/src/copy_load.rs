//! Bulk loading of the real items (with their cached vectors) and of derived
//! items into the real `items` table with binary COPY.

use anyhow::Result;
use engine::catalog::ValidItem;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::corpus::VectorDeriver;

/// PostgreSQL's binary COPY signature, flags and header-extension length.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// OID of `text`, the element type of `tags`.
const TEXT_OID: i32 = 25;
/// Rows are sent to the server in chunks of about this many bytes.
pub const SEND_BYTES: usize = 8 << 20;

pub const COPY_STATEMENT: &str = "COPY items (external_id, title, description, language, source, tags, embedding, model_id, content_hash) FROM STDIN (FORMAT binary)";

/// One tuple of the binary COPY stream, field by field.
pub struct Tuple<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Tuple<'a> {
    pub fn start(buf: &'a mut Vec<u8>, fields: i16) -> Self {
        buf.extend_from_slice(&fields.to_be_bytes());
        Self { buf }
    }

    pub fn text(&mut self, s: &str) {
        self.buf.extend_from_slice(&(s.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(s.as_bytes());
    }

    pub fn int8(&mut self, x: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&x.to_be_bytes());
    }

    /// `timestamptz`: microseconds since 2000-01-01 UTC.
    pub fn timestamptz(&mut self, unix_seconds: i64) {
        const PG_EPOCH_UNIX: i64 = 946_684_800;
        self.int8((unix_seconds - PG_EPOCH_UNIX) * 1_000_000);
    }

    /// A one-dimensional `text[]` without NULLs (array_recv's format).
    fn text_array(&mut self, values: &[String]) {
        let mut body = Vec::new();
        let ndim: i32 = if values.is_empty() { 0 } else { 1 };
        body.extend_from_slice(&ndim.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes());
        body.extend_from_slice(&TEXT_OID.to_be_bytes());
        if ndim == 1 {
            body.extend_from_slice(&(values.len() as i32).to_be_bytes());
            body.extend_from_slice(&1i32.to_be_bytes());
            for v in values {
                body.extend_from_slice(&(v.len() as i32).to_be_bytes());
                body.extend_from_slice(v.as_bytes());
            }
        }
        self.buf
            .extend_from_slice(&(body.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(&body);
    }

    /// pgvector's `vector_recv` format: int16 dims, int16 unused, float4 values.
    fn vector(&mut self, v: &[f32]) {
        let len = 4 + 4 * v.len();
        self.buf.extend_from_slice(&(len as i32).to_be_bytes());
        self.buf.extend_from_slice(&(v.len() as i16).to_be_bytes());
        self.buf.extend_from_slice(&0i16.to_be_bytes());
        for x in v {
            self.buf.extend_from_slice(&x.to_be_bytes());
        }
    }
}

/// Appends items number `from..to` to `items`: item i < `base.len()` is real
/// item i with its own vector; every further item gets a vector from `deriver`
/// and the text fields of the real item it was derived from.
pub async fn append_items(
    pool: &PgPool,
    base: &[ValidItem],
    base_vectors: &[Vec<f32>],
    model_id: &str,
    deriver: &mut VectorDeriver,
    from: usize,
    to: usize,
) -> Result<u64> {
    let mut conn = pool.acquire().await?;
    let mut copy = conn.copy_in_raw(COPY_STATEMENT).await?;
    let mut buf = Vec::with_capacity(SEND_BYTES + (64 << 10));
    buf.extend_from_slice(HEADER);
    for i in from..to {
        let (external_id, title, item, vector, hash);
        if i < base.len() {
            item = &base[i];
            external_id = item.external_id.clone();
            title = item.title.clone();
            vector = base_vectors[i].clone();
            hash = item.content_hash.clone();
        } else {
            let (b, v) = deriver.derive(i, base_vectors);
            item = &base[b];
            external_id = format!("bench-{i}");
            title = format!("{} · variant {i}", item.title);
            vector = v;
            hash = hex::encode(Sha256::digest(external_id.as_bytes()));
        }
        let mut t = Tuple::start(&mut buf, 9);
        t.text(&external_id);
        t.text(&title);
        t.text(&item.description);
        t.text(&item.language);
        t.text(&item.source);
        t.text_array(&item.tags);
        t.vector(&vector);
        t.text(model_id);
        t.text(&hash);
        if buf.len() >= SEND_BYTES {
            copy.send(std::mem::take(&mut buf)).await?;
            buf.reserve(SEND_BYTES + (64 << 10));
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    copy.send(buf).await?;
    Ok(copy.finish().await?)
}
