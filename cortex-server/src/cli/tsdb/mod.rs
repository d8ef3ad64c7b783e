//! `cortex tsdb ...`: the block tools, mirroring `promtool tsdb` command for command and
//! byte for byte in what they print.

mod analyze;
mod create_blocks;
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
    /// Report a block's cardinality and churn.
    Analyze {
        /// How many items to show in each list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Also report how full the block's chunks are.
        #[arg(long)]
        extended: bool,
        /// The data directory.
        #[arg(default_value = "data/")]
        db_path: PathBuf,
        /// The block to analyze (default: the newest).
        block_id: Option<String>,
    },
    /// Create blocks from other data.
    CreateBlocksFrom {
        /// Print human-readable times and sizes.
        #[arg(short = 'r', long, global = true)]
        human_readable: bool,
        /// Do not print the created blocks.
        #[arg(short = 'q', long, global = true)]
        quiet: bool,
        /// Largest duration of a created block (e.g. 2h, 24h).
        #[arg(long, global = true, default_value = "2h", value_parser = create_blocks::parse_duration_ms)]
        max_block_duration: i64,
        #[command(subcommand)]
        source: CreateBlocksSource,
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

/// What `create-blocks-from` reads.
#[derive(Debug, Subcommand)]
pub enum CreateBlocksSource {
    /// An OpenMetrics text file with timestamps on every sample.
    Openmetrics {
        /// The OpenMetrics file.
        input: PathBuf,
        /// Where to write the blocks.
        #[arg(default_value = "data/")]
        output_dir: PathBuf,
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
        TsdbCommand::Analyze {
            limit,
            extended,
            db_path,
            block_id,
        } => analyze::run(&db_path, block_id.as_deref(), limit, extended, out),
        TsdbCommand::CreateBlocksFrom {
            human_readable,
            quiet,
            max_block_duration,
            source: CreateBlocksSource::Openmetrics { input, output_dir },
        } => create_blocks::run(
            &input,
            &output_dir,
            max_block_duration,
            human_readable,
            quiet,
            out,
        ),
        TsdbCommand::Dump {
            min_time,
            max_time,
            selector,
            db_path,
        } => dump::run(&db_path, min_time, max_time, &selector, out),
    }
}
