//! The admin credential: the operator's password, checked before anything
//! starts, or a one-time password generated at start when none is set.

use anyhow::{bail, Result};
use app::session::AdminCredentials;

/// Shortest admin password accepted.
pub const MIN_ADMIN_PASSWORD_CHARS: usize = 12;

/// The admin credential to serve with. A set but empty (or whitespace-only) or
/// short password is refused: `SEMREC_ADMIN_PASSWORD=` in an env or compose file
/// must not open the dashboard to an empty password. Unset, a random password is
/// generated (a new one at each start, which ends the earlier admin sessions).
pub fn credentials(user: &str, password: Option<&str>) -> Result<AdminCredentials> {
    if user.trim().is_empty() {
        bail!("SEMREC_ADMIN_USER is empty: set a name, or unset it for 'admin'");
    }
    let password = match password {
        Some(p) if p.trim().is_empty() => bail!(
            "SEMREC_ADMIN_PASSWORD is set but empty: set at least {MIN_ADMIN_PASSWORD_CHARS} characters, \
             or unset it to have a one-time password generated at each start"
        ),
        Some(p) if p.trim().chars().count() < MIN_ADMIN_PASSWORD_CHARS => bail!(
            "SEMREC_ADMIN_PASSWORD is too short ({} characters): set at least {MIN_ADMIN_PASSWORD_CHARS}, \
             or unset it to have a one-time password generated at each start",
            p.trim().chars().count()
        ),
        Some(p) => p.to_string(),
        None => {
            let generated = engine::sessions::new_token()[..20].to_string();
            tracing::warn!(
                "SEMREC_ADMIN_PASSWORD is not set: admin '{user}' can sign in with the one-time password {generated}"
            );
            generated
        }
    };
    Ok(AdminCredentials {
        user: user.to_string(),
        password,
    })
}

/// Several instances must check one password: generated ones differ per
/// instance, and admin sessions are bound to the password, so an admin signed in
/// on one instance would be refused by the others.
pub fn check_shared(instances: u32, password: Option<&str>) -> Result<()> {
    if instances > 1 && password.is_none() {
        bail!(
            "SEMREC_EXPECTED_INSTANCES is {instances} but SEMREC_ADMIN_PASSWORD is not set: each instance \
             would generate its own one-time password and refuse the others' admin sessions; set the \
             same SEMREC_ADMIN_PASSWORD on every instance"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_instances_need_a_set_password() {
        assert!(check_shared(1, None).is_ok());
        assert!(check_shared(2, Some("twelve chars")).is_ok());
        let e = check_shared(2, None).unwrap_err().to_string();
        assert!(
            e.contains("set the same SEMREC_ADMIN_PASSWORD on every instance"),
            "{e}"
        );
    }

    #[test]
    fn empty_and_short_passwords_are_refused_and_unset_is_generated() {
        for bad in ["", "   ", "\t\n", "a", "elevenchars"] {
            let e = credentials("admin", Some(bad)).unwrap_err().to_string();
            assert!(e.contains("SEMREC_ADMIN_PASSWORD"), "{e}");
            assert!(e.contains("at least 12"), "{e}");
        }
        assert!(credentials("admin", Some("   padded-11   ")).is_err());
        let ok = credentials("admin", Some("twelve chars")).unwrap();
        assert_eq!(ok.password, "twelve chars");
        let (a, b) = (
            credentials("admin", None).unwrap(),
            credentials("admin", None).unwrap(),
        );
        assert_eq!(a.password.chars().count(), 20);
        assert_ne!(a.password, b.password, "a new password at each start");
        assert!(credentials(" ", Some("long enough password")).is_err());
    }
}
