use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A `.env` beside the binary's working directory fills variables the environment does not set.
    dotenvy::dotenv().ok();
    server::cli::run(server::cli::Cli::parse()).await
}
