//! `cortex tsdb ...`: the block tools, mirroring `promtool tsdb` command for command and
//! byte for byte in what they print.

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
    }
}
