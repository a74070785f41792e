use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = biotz::cli::Cli::parse();
    match biotz::cli::run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(2);
        }
    }
}
