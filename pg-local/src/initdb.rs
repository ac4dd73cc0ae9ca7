//! initdb: a new cluster with semrec's superuser and its settings file included.

use std::io::Write as _;
use std::path::Path;

use crate::data_dir::{random_token, write_private_file};
use crate::error::{io_err, ClusterError};
use crate::options::{PASSWORD_FILE, SETTINGS_FILE, SUPERUSER};
use crate::runner::{output_text, Runner};
use crate::template::make_temp_root;

/// Runs initdb; returns the new superuser's password (also saved in the data dir).
pub(crate) async fn init_cluster(
    runner: &Runner,
    data_dir: &Path,
    scratch: Option<&Path>,
    ephemeral: bool,
) -> Result<String, ClusterError> {
    let password = random_token(32);
    // initdb wants an empty data dir, so the password goes in through a temp file
    // elsewhere that only the cluster's OS user can read.
    let (pw_dir, remove_pw_dir) = match scratch {
        Some(dir) => (dir.to_path_buf(), false),
        None => (make_temp_root(runner).await?, true),
    };
    let pwfile = pw_dir.join("initdb.pw");
    let result = async {
        write_private_file(runner, &pwfile, &password)?;
        let locale = if Path::new("/usr/lib/locale/C.utf8").exists()
            || Path::new("/usr/lib/locale/C.UTF-8").exists()
        {
            "C.UTF-8"
        } else {
            "C"
        };
        let out = runner
            .command("initdb")
            .arg("-D")
            .arg(data_dir)
            .args([
                "-U",
                SUPERUSER,
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["--encoding=UTF8", &format!("--locale={locale}")])
            // A throwaway cluster need not wait for its files to reach the disk.
            .args(if ephemeral {
                &["--no-sync"][..]
            } else {
                &[][..]
            })
            .output()
            .await
            .map_err(io_err("could not run initdb"))?;
        if !out.status.success() {
            return Err(ClusterError::InitFailed {
                log: output_text(&out),
            });
        }
        Ok(())
    }
    .await;
    let _ = std::fs::remove_file(&pwfile);
    if remove_pw_dir {
        let _ = std::fs::remove_dir_all(&pw_dir);
    }
    result?;
    write_private_file(runner, &data_dir.join(PASSWORD_FILE), &password)?;

    // Include semrec's settings file (rewritten on every start). ALTER SYSTEM
    // (postgresql.auto.conf) is read later and still overrides it.
    let conf = data_dir.join("postgresql.conf");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .map_err(io_err(format!("could not open {}", conf.display())))?;
    writeln!(
        f,
        "\n# Added by semrec: its settings, rewritten on every start.\ninclude_if_exists = '{SETTINGS_FILE}'"
    )
    .map_err(io_err(format!("could not write {}", conf.display())))?;
    Ok(password)
}
