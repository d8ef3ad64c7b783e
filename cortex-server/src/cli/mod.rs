//! The command line: `cortex [server flags]` and `cortex tsdb <command>`.

mod gofmt;
mod tsdb;

use std::ffi::OsString;
use std::io::Write;

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
    Tsdb {
        #[command(subcommand)]
        command: tsdb::TsdbCommand,
    },
}

/// Runs the command line with the process' standard streams and returns the exit code.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    run_with(args, &mut stdout.lock(), &mut stderr.lock())
}

/// Runs the command line writing to the given streams; returns the exit code.
pub fn run_with<I: IntoIterator<Item = OsString>>(
    args: I,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = write!(err, "{}", e.render());
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        None => {
            let _ = writeln!(
                err,
                "cortex: the server is not implemented yet; `cortex tsdb --help` lists the \
                 block tools that are"
            );
            2
        }
        Some(Command::Tsdb { command }) => match tsdb::run(command, out) {
            Ok(()) => 0,
            Err(e) => {
                let _ = writeln!(err, "cortex tsdb: {e}");
                1
            }
        },
    }
}
