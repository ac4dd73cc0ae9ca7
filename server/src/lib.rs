//! The `semrec` server as a library: the binary (`main.rs`) and the
//! integration tests build the same router from here.

// The app's view types nest deeply; rendering them from the router needs more.
#![recursion_limit = "512"]

pub mod admission;
pub mod api;
pub mod config;
pub mod database;
pub mod db_pool;
pub mod model;
pub mod web;
