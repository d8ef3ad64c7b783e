//! The `cortex` binary.

fn main() {
    std::process::exit(cortex_server::cli::run(std::env::args_os()));
}
