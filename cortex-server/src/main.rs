//! The `cortex` binary.
//!
//! It allocates with mimalloc: after hours of ingestion the system allocator's heap is
//! left fragmented between long-lived series, and every later allocation (queries,
//! pushes) pays for walking and consolidating its free lists. Building without the
//! default `mimalloc` feature keeps the system allocator (for heap profilers).

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cortex_server::cli::run(std::env::args_os()));
}
