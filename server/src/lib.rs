//! The `semrec` server as a library: the binary (`main.rs`) and the
//! integration tests build the same router from here.

// The app's view types nest deeply; rendering them from the router needs more.
#![recursion_limit = "512"]

pub mod admin;
pub mod admission;
pub mod api;
pub mod collaborative;
pub mod config;
pub mod dashboard_export;
pub mod database;
pub mod db_pool;
pub mod edge;
pub mod model;
pub mod observability;
pub mod ranking_commands;
pub mod server_fn_errors;
pub mod session_sweeper;
pub mod state;
pub mod static_files;
pub mod web;
