//! The `sync-manager` binary: parse arguments, set up logging, hand over to the CLI.
use argh::FromArgs;
use sync_manager::cli;

// mimalloc: far less lock contention than the system allocator when the import's parser thread
// allocates what the writer frees, and much faster than musl's allocator in the static build.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SYNC_MANAGER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    // argh takes a bare "-" for an unknown flag; pass it on as the stdin marker instead.
    let argv: Vec<String> = std::env::args()
        .map(|a| {
            if a == "-" {
                cli::STDIN_ARG.to_string()
            } else {
                a
            }
        })
        .collect();
    let argv_refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let args: cli::Cli = match cli::Cli::from_args(&["sync-manager"], &argv_refs[1..]) {
        Ok(args) => args,
        Err(early) => {
            let output = early.output.replace(cli::STDIN_ARG, "-");
            return match early.status {
                Ok(()) => {
                    cli::write_out(format_args!("{output}\n"));
                    std::process::ExitCode::SUCCESS
                }
                Err(()) => {
                    eprintln!("{output}");
                    eprintln!(
                        "Run `sync-manager --help` (or `sync-manager COMMAND --help`) for the usage."
                    );
                    std::process::ExitCode::from(2)
                }
            };
        }
    };
    match cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) if err.downcast_ref::<cli::Partial>().is_some() => {
            eprintln!("warning: {err}");
            let code = err.downcast_ref::<cli::Partial>().map_or(1, |p| p.code);
            std::process::ExitCode::from(code)
        }
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
