//! Running PostgreSQL programs, as the `postgres` system user when semrec runs
//! as root (PostgreSQL refuses to run as root).

use std::ffi::{CStr, CString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use crate::error::{io_err, ClusterError};
use crate::options::SERVICE_USER;

const REQUIRED_PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
const STOP_TIMEOUT_SECS: u32 = 60;

#[derive(Debug, Clone)]
pub(crate) struct ServiceUser {
    pub(crate) uid: u32,
    gid: u32,
    runuser: PathBuf,
}

#[derive(Debug, Clone)]
pub(crate) struct Runner {
    pub(crate) bin_dir: PathBuf,
    /// Set when we are root: run everything as this user.
    pub(crate) service: Option<ServiceUser>,
}

impl Runner {
    pub(crate) fn new(bin_dir: PathBuf) -> Result<Self, ClusterError> {
        let missing = REQUIRED_PROGRAMS.iter().any(|p| {
            std::fs::metadata(bin_dir.join(p))
                .map(|m| !m.is_file() || m.permissions().mode() & 0o111 == 0)
                .unwrap_or(true)
        });
        if missing {
            return Err(ClusterError::PostgresNotInstalled {
                bin_dir,
                source: None,
            });
        }
        let service = if is_root() {
            let (uid, gid) = lookup_user(SERVICE_USER).ok_or(ClusterError::NoServiceUser)?;
            let runuser = [
                "/usr/sbin/runuser",
                "/sbin/runuser",
                "/usr/bin/runuser",
                "/bin/runuser",
            ]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("runuser"));
            Some(ServiceUser { uid, gid, runuser })
        } else {
            None
        };
        Ok(Self { bin_dir, service })
    }

    /// A command running `program` (a PostgreSQL program from bin_dir, or an absolute
    /// path) as the cluster's OS user.
    pub(crate) fn std_command(&self, program: &str) -> std::process::Command {
        let exe = if program.starts_with('/') {
            PathBuf::from(program)
        } else {
            self.bin_dir.join(program)
        };
        let mut cmd = match &self.service {
            Some(s) => {
                let mut c = std::process::Command::new(&s.runuser);
                c.args(["-u", SERVICE_USER, "--"]).arg(exe);
                c
            }
            None => std::process::Command::new(exe),
        };
        // The postgres user may not be able to enter our working directory (e.g. /root).
        cmd.current_dir("/");
        for var in [
            "PGDATA",
            "PGPORT",
            "PGHOST",
            "PGHOSTADDR",
            "PGUSER",
            "PGPASSWORD",
            "PGOPTIONS",
            "PGDATABASE",
            "PGSERVICE",
            "PGTZ",
            "PGCLIENTENCODING",
        ] {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub(crate) fn command(&self, program: &str) -> tokio::process::Command {
        tokio::process::Command::from(self.std_command(program))
    }

    pub(crate) async fn server_major_version(&self) -> Result<String, ClusterError> {
        let line = self.server_version_line().await?;
        // "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
        let version = line
            .split(") ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(|v| v.split('.').next().unwrap_or(v).to_owned());
        match version {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ClusterError::PostgresNotInstalled {
                bin_dir: self.bin_dir.clone(),
                source: None,
            }),
        }
    }

    /// Output of `postgres -V`.
    pub(crate) async fn server_version_line(&self) -> Result<String, ClusterError> {
        // `postgres -V` is allowed as root; no need for runuser.
        let out = tokio::process::Command::new(self.bin_dir.join("postgres"))
            .arg("-V")
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| ClusterError::PostgresNotInstalled {
                bin_dir: self.bin_dir.clone(),
                source: Some(e),
            })?;
        if !out.status.success() {
            return Err(ClusterError::PostgresNotInstalled {
                bin_dir: self.bin_dir.clone(),
                source: None,
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// The uid that owns the cluster's files.
    pub(crate) fn owner_uid(&self) -> u32 {
        match &self.service {
            Some(s) => s.uid,
            // SAFETY: geteuid has no preconditions and cannot fail.
            None => unsafe { libc::geteuid() },
        }
    }

    fn pg_ctl_stop_args(data_dir: &Path) -> Vec<std::ffi::OsString> {
        vec![
            "stop".into(),
            "-D".into(),
            data_dir.into(),
            "-m".into(),
            "fast".into(),
            "-w".into(),
            "-t".into(),
            STOP_TIMEOUT_SECS.to_string().into(),
        ]
    }

    pub(crate) async fn pg_ctl_stop_async(&self, data_dir: &Path) -> std::io::Result<Output> {
        self.command("pg_ctl")
            .args(Self::pg_ctl_stop_args(data_dir))
            .output()
            .await
    }

    pub(crate) fn pg_ctl_stop_blocking(&self, data_dir: &Path) -> std::io::Result<Output> {
        self.std_command("pg_ctl")
            .args(Self::pg_ctl_stop_args(data_dir))
            .output()
    }

    /// Whether the cluster's OS user can read, write and enter `dir`.
    pub(crate) async fn can_use_dir(&self, dir: &Path, flags: &[&str]) -> bool {
        let mut cmd = self.command(&system_tool("test"));
        for (i, f) in flags.iter().enumerate() {
            if i > 0 {
                cmd.arg("-a");
            }
            cmd.arg(f).arg(dir);
        }
        matches!(cmd.output().await, Ok(o) if o.status.success())
    }

    pub(crate) fn chown(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some(s) = &self.service {
            std::os::unix::fs::chown(path, Some(s.uid), Some(s.gid)).map_err(io_err(format!(
                "could not chown {} to {SERVICE_USER}",
                path.display()
            )))?;
        }
        Ok(())
    }
}

pub(crate) fn output_text(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    if !err.trim().is_empty() {
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&err);
    }
    s
}

/// `/usr/bin/NAME`, or `/bin/NAME` on systems without a merged /usr.
pub(crate) fn system_tool(name: &str) -> String {
    let usr = format!("/usr/bin/{name}");
    if Path::new(&usr).exists() {
        usr
    } else {
        format!("/bin/{name}")
    }
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// uid and gid of a system user.
fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain old data; getpwnam_r fills it and points its strings into
    // `buf`, which outlives every use; we read only the numeric fields.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        debug_assert_eq!(CStr::from_ptr(pwd.pw_name).to_bytes(), name.as_bytes());
        Some((pwd.pw_uid, pwd.pw_gid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_postgres_that_cannot_be_run_keeps_the_reason() {
        let runner = Runner {
            bin_dir: PathBuf::from("/nonexistent/postgresql/bin"),
            service: None,
        };
        let err = runner.server_version_line().await.unwrap_err();
        let source =
            std::error::Error::source(&err).and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            source.map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound),
            "{err}"
        );
    }
}
