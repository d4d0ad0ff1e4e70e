//! passkeyd: a self-hosted passkey (WebAuthn) server and its command-line tools. The library
//! holds everything; `main.rs` only parses the command line and runs what it names. Tests use
//! the library to run the server in-process.

pub mod admin;
pub mod apps;
pub mod audit;
pub mod authenticators;
pub mod browser;
pub mod ceremony;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod inspect;
pub mod jwt;
pub mod logs;
pub mod manage;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod report;
pub mod secrets;
pub mod server;
pub mod service;
pub mod sessions;
pub mod settings;
pub mod verify;
pub mod views;
pub mod webhooks;

use std::io::Read;

/// Exit status: verified, or decoded.
pub const EXIT_OK: u8 = 0;
/// Exit status: the response was refused, or the input could not be decoded.
pub const EXIT_REFUSED: u8 = 1;
/// Exit status: the command could not run (bad flags, unreadable file or stdin).
pub const EXIT_USAGE: u8 = 2;

/// What a command has to say, and the exit status it ends with.
#[derive(Debug)]
pub struct Outcome {
    /// Written to stdout.
    pub stdout: String,
    /// Written to stderr.
    pub stderr: String,
    /// The exit status.
    pub code: u8,
}

impl Outcome {
    /// A usage error: a message on stderr, exit status 2.
    pub fn usage(message: impl std::fmt::Display) -> Self {
        Outcome {
            stdout: String::new(),
            stderr: format!("passkeyd: {message}\n"),
            code: EXIT_USAGE,
        }
    }

    /// A refusal or failure: a message on stderr, exit status 1.
    pub fn refused(message: impl std::fmt::Display) -> Self {
        Outcome {
            stdout: String::new(),
            stderr: format!("passkeyd: {message}\n"),
            code: EXIT_REFUSED,
        }
    }
}

/// Reads all of a command's input (stdin); failing to read it is a usage error.
pub fn read_input(input: &mut dyn Read) -> Result<Vec<u8>, Outcome> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| Outcome::usage(format!("cannot read stdin: {e}")))?;
    Ok(bytes)
}
