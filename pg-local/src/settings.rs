//! The settings file semrec rewrites on every start (`semrec.conf`).

use std::fmt::Write as _;
use std::path::Path;

/// Linux limit for a unix socket path (sun_path is 108 bytes including the NUL).
const MAX_SOCKET_PATH: usize = 107;

pub(crate) fn settings(data_dir: &Path, port: u16, ephemeral: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by semrec on every start; edits here are overwritten."
    );
    let _ = writeln!(
        s,
        "# To override a setting use ALTER SYSTEM (postgresql.auto.conf)."
    );
    let _ = writeln!(s, "listen_addresses = '127.0.0.1'");
    let _ = writeln!(s, "port = {port}");
    let socket = data_dir.join(format!(".s.PGSQL.{port}"));
    if socket.as_os_str().len() <= MAX_SOCKET_PATH {
        let _ = writeln!(
            s,
            "unix_socket_directories = '{}'",
            data_dir.display().to_string().replace('\'', "''")
        );
    } else {
        // The path is too long for a unix socket; TCP on 127.0.0.1 is all we use.
        let _ = writeln!(s, "unix_socket_directories = ''");
    }
    // Room for the server's pools (sized from its in-flight limit) and CLI commands.
    let _ = writeln!(s, "max_connections = 300");
    let _ = writeln!(s, "shared_buffers = 256MB");
    let _ = writeln!(s, "maintenance_work_mem = 512MB");
    if ephemeral {
        let _ = writeln!(s, "# Throwaway test cluster: speed over durability.");
        let _ = writeln!(s, "fsync = off");
        let _ = writeln!(s, "synchronous_commit = off");
        let _ = writeln!(s, "full_page_writes = off");
    } else {
        let _ = writeln!(s, "fsync = on");
        let _ = writeln!(s, "synchronous_commit = on");
        let _ = writeln!(s, "full_page_writes = on");
    }
    s
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    #[test]
    fn ephemeral_settings_trade_durability_for_speed() {
        let s = settings(Path::new("/tmp/x"), 5555, true);
        assert!(s.contains("fsync = off") && s.contains("port = 5555"));
        assert!(s.contains("unix_socket_directories = '/tmp/x'"));
        let s = settings(Path::new("/tmp/x"), 5555, false);
        assert!(s.contains("fsync = on"));
        let long = PathBuf::from(format!("/tmp/{}", "d".repeat(120)));
        assert!(settings(&long, 1, false).contains("unix_socket_directories = ''"));
    }
}
