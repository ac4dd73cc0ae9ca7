//! The built front end under `/pkg` and the caching rules of everything served.
//!
//! `scripts/build.sh` names the bundle after its content (`semrec.<16 hex>.js`,
//! `.wasm`, `.css`: one hash over the three) and writes that name to
//! `<site root>/bundle.txt`. A file whose name carries the hash never changes,
//! so browsers may keep it for a year without asking again; a page is never
//! kept, so the next page after a deploy names the new bundle.

use std::path::Path;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use http::{header, HeaderValue};
use tower_http::services::ServeDir;

/// The bundle's base name when the site has no `bundle.txt` (a site built
/// before hashing, or none at all: pages still render).
pub const UNHASHED_BUNDLE: &str = "semrec";

/// For content-hashed names: a year, and no revalidation on reload.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For anything under `/pkg` without a hash in its name: ask every time.
pub const REVALIDATE: &str = "no-cache";
/// For pages (and any other HTML): personal, never stored. Stricter than
/// `no-cache`: Chromium shows a `no-cache` page from its cache on Back without
/// asking, which showed a profile as it was before the last save.
pub const NEVER_STORE: &str = "no-store";

/// The bundle's base name (`semrec.<hash>`) from `<site root>/bundle.txt`.
pub fn bundle_name(site_root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(site_root.join("bundle.txt")).ok()?;
    let name = text.trim();
    is_hashed_base(name).then(|| name.to_string())
}

/// `semrec.` followed by exactly 16 lowercase hex digits.
fn is_hashed_base(name: &str) -> bool {
    name.strip_prefix("semrec.").is_some_and(|hash| {
        hash.len() == 16
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A file name of the hashed bundle: `semrec.<hash>.<ext>` (`.gz` variants are
/// served under the plain name).
fn is_hashed_file(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(base, ext)| matches!(ext, "js" | "wasm" | "css") && is_hashed_base(base))
}

/// `/pkg/*` from `<site root>/pkg`, gzip variants preferred, with caching headers.
pub fn pkg_router(pkg_dir: &Path) -> Router {
    Router::new()
        .fallback_service(ServeDir::new(pkg_dir).precompressed_gzip())
        .layer(middleware::from_fn(pkg_cache_control))
}

async fn pkg_cache_control(req: Request, next: Next) -> Response {
    let name = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    let mut res = next.run(req).await;
    if res.status().is_success() || res.status() == http::StatusCode::NOT_MODIFIED {
        let value = if is_hashed_file(&name) {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    res
}

/// Every HTML response without its own caching rule (error and busy pages as
/// well as the app's pages) is never stored.
pub async fn html_not_stored(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NEVER_STORE));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_with_the_sixteen_hex_hash_are_immutable() {
        assert!(is_hashed_file("semrec.0123456789abcdef.wasm"));
        assert!(is_hashed_file("semrec.0123456789abcdef.js"));
        assert!(is_hashed_file("semrec.0123456789abcdef.css"));
        for name in [
            "semrec.wasm",
            "semrec.js",
            "semrec.css",
            "semrec.0123456789abcdef.txt",
            "semrec.0123456789ABCDEF.js",
            "semrec.0123456789abcde.js",
            "other.0123456789abcdef.js",
        ] {
            assert!(!is_hashed_file(name), "{name}");
        }
    }

    #[test]
    fn bundle_txt_names_the_bundle_or_nothing() {
        let dir = std::env::temp_dir().join(format!("semrec-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(bundle_name(&dir), None);
        std::fs::write(dir.join("bundle.txt"), "semrec.0123456789abcdef\n").unwrap();
        assert_eq!(
            bundle_name(&dir).as_deref(),
            Some("semrec.0123456789abcdef")
        );
        std::fs::write(dir.join("bundle.txt"), "../../etc/passwd\n").unwrap();
        assert_eq!(bundle_name(&dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
