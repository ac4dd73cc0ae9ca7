//! The data directory: created, owned by the cluster's OS user and private;
//! checked before use; the superuser's password file in it.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{io_err, ClusterError};
use crate::options::{PASSWORD_FILE, SERVICE_USER};
use crate::runner::Runner;

/// Creates the data directory if needed, makes it the cluster user's and private,
/// checks that user can reach it, and returns its canonical path.
pub(crate) async fn prepare_data_dir(
    runner: &Runner,
    requested: &Path,
) -> Result<PathBuf, ClusterError> {
    std::fs::create_dir_all(requested).map_err(io_err(format!(
        "could not create the data directory {}",
        requested.display()
    )))?;
    let data_dir = std::fs::canonicalize(requested).map_err(io_err(format!(
        "could not resolve the data directory {}",
        requested.display()
    )))?;
    let meta = std::fs::metadata(&data_dir).map_err(io_err(format!(
        "could not read the data directory {}",
        data_dir.display()
    )))?;
    if let Some(s) = &runner.service {
        if meta.uid() != s.uid {
            runner.chown(&data_dir)?;
        }
    }
    // PostgreSQL insists on 0700 (or 0750) for its data directory.
    if meta.permissions().mode() & 0o027 != 0 {
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700)).map_err(
            io_err(format!("could not chmod 0700 {}", data_dir.display())),
        )?;
    }
    if runner.service.is_some() && !runner.can_use_dir(&data_dir, &["-r", "-w", "-x"]).await {
        let mut blocking = None;
        for anc in data_dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
            if !runner.can_use_dir(anc, &["-x"]).await {
                blocking = Some(anc.to_path_buf());
                break;
            }
        }
        let reason = match blocking {
            Some(anc) => {
                let mode = std::fs::metadata(&anc)
                    .map(|m| format!("{:o}", m.permissions().mode() & 0o7777))
                    .unwrap_or_else(|_| "?".into());
                format!(
                    "PostgreSQL runs as the '{SERVICE_USER}' user (it refuses to run as root) and that user cannot enter {} (mode {mode}) — choose a data directory it can reach, e.g. /var/lib/semrec/postgres, or allow traversal (chmod o+x {})",
                    anc.display(),
                    anc.display()
                )
            }
            None => format!(
                "the '{SERVICE_USER}' user (PostgreSQL refuses to run as root) cannot read and write it — choose a data directory that user can reach, e.g. /var/lib/semrec/postgres"
            ),
        };
        return Err(ClusterError::DataDirUnusable { data_dir, reason });
    }
    Ok(data_dir)
}

pub(crate) fn ensure_empty(data_dir: &Path) -> Result<(), ClusterError> {
    let mut entries = std::fs::read_dir(data_dir).map_err(io_err(format!(
        "could not list the data directory {}",
        data_dir.display()
    )))?;
    if entries.next().is_some() {
        return Err(ClusterError::DataDirUnusable {
            data_dir: data_dir.to_path_buf(),
            reason: "it is not empty but holds no PostgreSQL cluster (no PG_VERSION; maybe an earlier initdb was interrupted) — empty it or choose another directory".into(),
        });
    }
    Ok(())
}

pub(crate) fn check_existing_cluster(data_dir: &Path, bin_major: &str) -> Result<(), ClusterError> {
    let version = std::fs::read_to_string(data_dir.join("PG_VERSION")).map_err(io_err(format!(
        "could not read {}/PG_VERSION",
        data_dir.display()
    )))?;
    let version = version.trim();
    if version != bin_major {
        return Err(ClusterError::DataDirUnusable {
            data_dir: data_dir.to_path_buf(),
            reason: format!(
                "it holds a PostgreSQL {version} cluster but the server programs are PostgreSQL {bin_major} — set SEMREC_PG_BIN to PostgreSQL {version}'s bin directory, or upgrade the cluster with pg_upgrade"
            ),
        });
    }
    if !data_dir.join(PASSWORD_FILE).exists() {
        return Err(ClusterError::DataDirUnusable {
            data_dir: data_dir.to_path_buf(),
            reason: format!(
                "it holds a PostgreSQL cluster that semrec did not create ({PASSWORD_FILE} is missing) — point semrec at that cluster with DATABASE_URL, or choose another (empty) data directory"
            ),
        });
    }
    Ok(())
}

pub(crate) fn read_password(data_dir: &Path) -> Result<String, ClusterError> {
    let path = data_dir.join(PASSWORD_FILE);
    let pw = std::fs::read_to_string(&path)
        .map_err(io_err(format!("could not read {}", path.display())))?;
    let pw = pw.trim().to_owned();
    if pw.is_empty() {
        return Err(ClusterError::DataDirUnusable {
            data_dir: data_dir.to_path_buf(),
            reason: format!(
                "{PASSWORD_FILE} is empty — restore it or start over with an empty data directory"
            ),
        });
    }
    Ok(pw)
}

/// Writes `contents` to a new file with mode 0600, owned by the cluster's OS user.
pub(crate) fn write_private_file(
    runner: &Runner,
    path: &Path,
    contents: &str,
) -> Result<(), ClusterError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(format!("could not create {}", path.display())))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|_| f.write_all(contents.as_bytes()))
        .and_then(|_| f.sync_all())
        .map_err(io_err(format!("could not write {}", path.display())))?;
    runner.chown(path)
}

pub(crate) fn random_token(len: usize) -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
