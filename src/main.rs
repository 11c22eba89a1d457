//! The `sync-manager` binary: parse arguments, set up logging, hand over to the CLI.
use sync_manager::cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SYNC_MANAGER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args: cli::Cli = argh::from_env();
    match cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            if let Some(sync_manager::AppError::Rejected { errors }) = err.downcast_ref() {
                for e in errors.iter().take(20) {
                    eprintln!("  record {}: {}", e.index, e.reason);
                }
            }
            std::process::ExitCode::FAILURE
        }
    }
}
