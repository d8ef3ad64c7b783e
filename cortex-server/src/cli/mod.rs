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

/// Runs the command line with the process' standard streams and returns the exit code:
/// `cortex tsdb ...` runs a block tool, anything else starts the server with the
/// given flags.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "tsdb") {
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        return run_with(args, &mut stdout.lock(), &mut stderr.lock());
    }
    let flags: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let parsed = match crate::config::parse_args(&flags) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cortex: {e}");
            return 1;
        }
    };
    if parsed.help {
        print!("{}", crate::config::usage());
        return 0;
    }
    if parsed.version {
        println!("cortex, version {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    match crate::config::Config::from_parsed(&parsed) {
        Ok(cfg) => crate::server::run_process(cfg),
        Err(e) => {
            eprintln!("cortex: {e}");
            1
        }
    }
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
                "cortex: `cortex tsdb <command>` runs a block tool; `cortex [flags]` starts the \
                 server (`cortex -help` lists the flags)"
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
