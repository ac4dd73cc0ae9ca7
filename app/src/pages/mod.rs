pub mod admin;
pub mod home;
pub mod import;
pub mod item;
