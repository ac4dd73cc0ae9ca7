//! PostgreSQL installations made for a test.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A copy of the PostgreSQL installation without pgvector's files, under `root`;
/// returns its bin directory, or None when there is no `pg_config` to find the
/// installation's share and lib directories. PostgreSQL finds share/ and lib/
/// relative to its own binary, so the layout is mirrored.
pub fn without_pgvector(root: &Path) -> Option<PathBuf> {
    let bin = pg_local::ClusterOptions::default_bin_dir();
    let pg_config = |flag: &str| -> Option<PathBuf> {
        let out = Command::new(bin.join("pg_config"))
            .arg(flag)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    };
    let (share, lib) = (pg_config("--sharedir")?, pg_config("--pkglibdir")?);
    let copy = |src: &Path| -> PathBuf {
        let dst = root.join(src.strip_prefix("/").unwrap());
        std::fs::create_dir_all(&dst).unwrap();
        let ok = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", src.display()))
            .arg(&dst)
            .status()
            .unwrap()
            .success();
        assert!(ok, "copying {}", src.display());
        remove_vector_files(&dst);
        dst
    };
    let new_bin = copy(&bin);
    copy(&share);
    copy(&lib);
    // Reachable by the postgres user when the tests run as root.
    let mut dir = new_bin.clone();
    while dir.starts_with(root) {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
        if !dir.pop() {
            break;
        }
    }
    Some(new_bin)
}

fn remove_vector_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            remove_vector_files(&path);
        } else if entry.file_name().to_string_lossy().starts_with("vector") {
            std::fs::remove_file(&path).unwrap();
        }
    }
}
