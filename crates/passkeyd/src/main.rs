//! The passkeyd binary's entry point: parses the command line, reads stdin, runs the command and
//! turns its outcome into output and an exit status (0 verified or decoded, 1 refused or bad
//! input, 2 usage error).

mod cli;
mod inspect;
mod report;
mod verify;

use clap::Parser;
use cli::{Cli, Command, VerifyCommand};
use std::io::{Read, Write};
use std::process::ExitCode;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdin = std::io::stdin().lock();
    let outcome = match &cli.command {
        Command::Verify(VerifyCommand::Registration(args)) => {
            verify::registration(args, &mut stdin)
        }
        Command::Verify(VerifyCommand::Authentication(args)) => {
            verify::authentication(args, &mut stdin)
        }
        Command::Inspect(args) => inspect::run(args, &mut stdin),
    };
    ExitCode::from(emit(&outcome))
}

/// Reads all of a command's input (stdin); failing to read it is a usage error.
pub fn read_input(input: &mut dyn Read) -> Result<Vec<u8>, Outcome> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| Outcome::usage(format!("cannot read stdin: {e}")))?;
    Ok(bytes)
}

/// Writes the outcome; a failure to write stdout (a closed pipe) becomes a usage error status
/// rather than a panic.
fn emit(outcome: &Outcome) -> u8 {
    let mut code = outcome.code;
    if !outcome.stdout.is_empty() {
        let mut stdout = std::io::stdout().lock();
        if stdout
            .write_all(outcome.stdout.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            code = EXIT_USAGE;
        }
    }
    if !outcome.stderr.is_empty() {
        // Nothing better can be done when stderr itself is gone.
        let _ = std::io::stderr()
            .lock()
            .write_all(outcome.stderr.as_bytes());
    }
    code
}
