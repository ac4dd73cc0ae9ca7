//! Temporary clusters: a private directory per cluster, and a cached initdb
//! result copied into it instead of running initdb each time.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::data_dir::random_token;
use crate::error::{io_err, one_line, ClusterError};
use crate::initdb::init_cluster;
use crate::options::PASSWORD_FILE;
use crate::runner::{output_text, system_tool, Runner};
use crate::settings::settings;

/// Bump when the layout init_cluster produces changes, to retire old templates.
const TEMPLATE_FORMAT: u32 = 1;

/// Picks a temp base the cluster's OS user can reach and creates a fresh private
/// directory in it (owned by that user).
pub(crate) async fn make_temp_root(runner: &Runner) -> Result<PathBuf, ClusterError> {
    let mut bases = vec![std::env::temp_dir()];
    if !bases.contains(&PathBuf::from("/tmp")) {
        bases.push(PathBuf::from("/tmp"));
    }
    for (i, base) in bases.iter().enumerate() {
        let last = i + 1 == bases.len();
        if runner.service.is_some() && !last && !runner.can_use_dir(base, &["-x"]).await {
            tracing::debug!(base = %base.display(), "temp dir not reachable by the postgres user; trying /tmp");
            continue;
        }
        let root = base.join(format!("semrec-pg-{}", random_token(12).to_lowercase()));
        match std::fs::create_dir_all(base).and_then(|_| std::fs::create_dir(&root)) {
            Ok(()) => {
                std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))
                    .map_err(io_err(format!("could not chmod {}", root.display())))?;
                runner.chown(&root)?;
                return Ok(root);
            }
            Err(e) if last => {
                return Err(ClusterError::Io {
                    context: format!(
                        "could not create a temporary directory in {}",
                        base.display()
                    ),
                    source: e,
                })
            }
            Err(_) => continue,
        }
    }
    unreachable!("the last candidate either returns Ok or an error")
}

/// initdb is most of a temporary cluster's start-up (about 1.5 s) and gives the same
/// result every time, so temporary clusters copy a cached initdb result, made once
/// per temp dir, OS user and PostgreSQL build (`semrec-pg-template-HASH`). All
/// temporary clusters made from one template share its superuser password, which
/// is fine for throwaway clusters that only listen on 127.0.0.1.
pub(crate) async fn copy_template(
    runner: &Runner,
    root: &Path,
    data_dir: &Path,
) -> Result<(), ClusterError> {
    let base = root.parent().unwrap_or(Path::new("/tmp"));
    let template = cached_template(runner, base).await?;
    let out = runner
        .command(&system_tool("cp"))
        .arg("-a")
        .arg(template.join("."))
        .arg(data_dir)
        .output()
        .await
        .map_err(io_err("could not run cp"))?;
    if !out.status.success() {
        return Err(ClusterError::Io {
            context: format!(
                "could not copy {} to {}: {}",
                template.display(),
                data_dir.display(),
                one_line(&output_text(&out))
            ),
            source: std::io::Error::other("cp failed"),
        });
    }
    Ok(())
}

/// Returns the template for this machine's PostgreSQL, making it if needed.
async fn cached_template(runner: &Runner, base: &Path) -> Result<PathBuf, ClusterError> {
    use sha2::{Digest, Sha256};
    // One initdb at a time in this process; other processes racing us are handled
    // by the atomic rename below.
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = LOCK.lock().await;

    let version = runner.server_version_line().await?;
    let mut hasher = Sha256::new();
    hasher.update(runner.bin_dir.as_os_str().as_encoded_bytes());
    hasher.update(b"\0");
    hasher.update(version.as_bytes());
    hasher.update(b"\0");
    hasher.update(runner.owner_uid().to_le_bytes());
    hasher.update(settings(Path::new("/"), 0, true).as_bytes());
    hasher.update(TEMPLATE_FORMAT.to_le_bytes());
    let key = hex::encode(&hasher.finalize()[..8]);
    let template = base.join(format!("semrec-pg-template-{key}"));
    if template_usable(runner, &template) {
        return Ok(template);
    }

    let started = Instant::now();
    let work = make_temp_root(runner).await?;
    let result = async {
        let data = work.join("data");
        std::fs::create_dir(&data)
            .and_then(|_| std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)))
            .map_err(io_err(format!("could not create {}", data.display())))?;
        runner.chown(&data)?;
        init_cluster(runner, &data, Some(&work), true).await?;
        match std::fs::rename(&data, &template) {
            Ok(()) => Ok(()),
            // Another process finished first.
            Err(_) if template_usable(runner, &template) => Ok(()),
            Err(e) => Err(ClusterError::Io {
                context: format!(
                    "could not move the initdb template to {}",
                    template.display()
                ),
                source: e,
            }),
        }
    }
    .await;
    let _ = std::fs::remove_dir_all(&work);
    result?;
    tracing::info!(
        template = %template.display(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "cached an initdb template for temporary clusters"
    );
    Ok(template)
}

/// A complete template (it only appears by rename once complete), owned by the
/// cluster's OS user and private to it (so no other user can plant one).
fn template_usable(runner: &Runner, template: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(template) else {
        return false;
    };
    meta.is_dir()
        && meta.uid() == runner.owner_uid()
        && meta.permissions().mode() & 0o077 == 0
        && template.join("PG_VERSION").is_file()
        && template.join(PASSWORD_FILE).is_file()
        && template.join("global/pg_control").is_file()
}
