//! The server's API tests, in one test binary: every endpoint and error in-process (on SQLite and
//! on PostgreSQL), ceremonies finished on another instance, racing finishes, and a crash test
//! that kills the real binary while registrations run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod admin;
mod authentication;
mod browser;
mod crash;
mod demo;
mod errors;
mod instances;
mod operations;
mod passkeys;
mod registration;
mod screenshots;
mod sdk;
mod sessions;
mod users;
mod webhooks;
