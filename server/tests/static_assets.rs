//! Caching of the built front end and of pages, through the real `semrec`
//! binary: it reads the bundle's content-hashed name from `bundle.txt` in its
//! site root, its pages name that bundle, hashed files are immutable for a year
//! and pages are never stored.

use std::process::Command;

use test_support::binary::Server;
use test_support::scratch::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_semrec");
const BUNDLE: &str = "semrec.0123456789abcdef";

/// The response head and body of a GET, header names lowercased.
fn get(url: &str, extra: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-D", "-"])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_ascii_lowercase(), body.to_string())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

#[test]
fn hashed_bundle_files_are_immutable_and_pages_are_never_stored() {
    let scratch = Scratch::new("static");
    let pkg = scratch.join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(scratch.join("site/bundle.txt"), format!("{BUNDLE}\n")).unwrap();
    for ext in ["js", "wasm", "css"] {
        std::fs::write(pkg.join(format!("{BUNDLE}.{ext}")), format!("/* {ext} */")).unwrap();
    }
    std::fs::write(pkg.join("notes.txt"), "not hashed").unwrap();
    let server = Server::start(test_support::binary::command(BIN, &scratch));
    let base = &server.base;

    for ext in ["js", "wasm", "css"] {
        let (head, body) = get(&format!("{base}/pkg/{BUNDLE}.{ext}"), &[]);
        assert!(head.starts_with("http/1.1 200"), "{ext}: {head}");
        assert_eq!(body, format!("/* {ext} */"));
        assert_eq!(
            header(&head, "cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{ext}: {head}"
        );
    }
    // A name without the hash may change under the same URL: asked for every time.
    let (head, _) = get(&format!("{base}/pkg/notes.txt"), &[]);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(header(&head, "cache-control"), Some("no-cache"), "{head}");
    // Missing files are not cached as anything.
    let (head, _) = get(&format!("{base}/pkg/{BUNDLE}.map"), &[]);
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert_eq!(header(&head, "cache-control"), None, "{head}");

    // The page names the hashed bundle: stylesheet, script and WASM.
    let (head, body) = get(&format!("{base}/"), &[]);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(header(&head, "content-type").is_some_and(|v| v.starts_with("text/html")));
    assert_eq!(header(&head, "cache-control"), Some("no-store"), "{head}");
    for name in [
        format!("/pkg/{BUNDLE}.css"),
        format!("/pkg/{BUNDLE}.js"),
        format!("/pkg/{BUNDLE}.wasm"),
    ] {
        assert!(
            body.contains(&name),
            "the page does not name {name}:\n{body}"
        );
    }
    assert!(!body.contains("/pkg/semrec.css"), "{body}");
    // Other HTML (here the 404 page) is not stored either.
    let (head, _) = get(&format!("{base}/no-such-page"), &[]);
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert_eq!(header(&head, "cache-control"), Some("no-store"), "{head}");
    server.stop();
}
