use clap::Parser;

// Answering a query allocates and frees many small rows and strings across worker threads; mimalloc does that
// markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A `.env` in the working directory fills variables the environment does not set.
    dotenvy::dotenv().ok();
    server::cli::run(server::cli::Cli::parse()).await
}
