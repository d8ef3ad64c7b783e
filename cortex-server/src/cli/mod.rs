//! The command line: `cortex [server flags]` and `cortex tsdb <command>`.

use std::ffi::OsString;

use clap::{Parser, Subcommand};

/// A horizontally scalable, multi-tenant, long-term store for Prometheus metrics.
#[derive(Debug, Parser)]
#[command(name = "cortex", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and create Prometheus TSDB blocks (like `promtool tsdb`).
    Tsdb,
}

/// Runs the command line and returns the process exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        None => {
            eprintln!(
                "cortex: the server is not implemented yet; `cortex tsdb --help` lists the \
                 block tools that are"
            );
            2
        }
        Some(Command::Tsdb) => 0,
    }
}
