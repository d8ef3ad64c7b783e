//! `cortex tsdb ...`: the block tools, mirroring `promtool tsdb` command for command and
//! byte for byte in what they print.

mod dump;
mod list;

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;

/// The `tsdb` subcommands.
#[derive(Debug, Subcommand)]
pub enum TsdbCommand {
    /// List the blocks of a data directory.
    List {
        /// Print human-readable times and sizes.
        #[arg(short = 'r', long)]
        human_readable: bool,
        /// The data directory.
        #[arg(default_value = "data/")]
        db_path: PathBuf,
    },
    /// Dump the samples of a data directory.
    Dump {
        /// Minimum timestamp to dump, in milliseconds.
        #[arg(long, default_value_t = i64::MIN, allow_hyphen_values = true)]
        min_time: i64,
        /// Maximum timestamp to dump, in milliseconds.
        #[arg(long, default_value_t = i64::MAX, allow_hyphen_values = true)]
        max_time: i64,
        /// Series selector.
        #[arg(long = "match", default_value = dump::DEFAULT_MATCH)]
        selector: String,
        /// The data directory.
        #[arg(default_value = "data/")]
        db_path: PathBuf,
    },
}

/// Why a `tsdb` command failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Reading or writing blocks failed.
    #[error(transparent)]
    Tsdb(#[from] cortex_tsdb::Error),
    /// Writing the output failed.
    #[error("write output: {0}")]
    Output(#[from] std::io::Error),
    /// The arguments or input are not usable.
    #[error("{0}")]
    Usage(String),
}

/// Runs one `tsdb` subcommand.
pub fn run(cmd: TsdbCommand, out: &mut dyn Write) -> Result<(), ToolError> {
    match cmd {
        TsdbCommand::List {
            human_readable,
            db_path,
        } => list::run(&db_path, human_readable, out),
        TsdbCommand::Dump {
            min_time,
            max_time,
            selector,
            db_path,
        } => dump::run(&db_path, min_time, max_time, &selector, out),
    }
}
