//! semrec's one integration-test harness, shared by every crate's tests:
//!
//! - [`paths`]: the workspace, the model folder, the fixtures;
//! - [`model`]: the real embedding model, loaded once per test binary;
//! - [`db`]: an engine over a throwaway PostgreSQL + pgvector cluster;
//! - [`fixtures`]: catalogs to import;
//! - [`scratch`]: temporary directories the `postgres` user can enter;
//! - [`process`]: pids, postmasters, signals;
//! - [`postgres`]: PostgreSQL installations made for a test (one without pgvector);
//! - [`binary`]: the `semrec` binary as a child process (start, wait for
//!   readiness, call it over HTTP with `curl`, stop it);
//! - [`router`] (feature `server`): the web router driven in process.

pub mod binary;
pub mod db;
pub mod fixtures;
pub mod model;
pub mod paths;
pub mod postgres;
pub mod process;
#[cfg(feature = "server")]
pub mod router;
pub mod scratch;
