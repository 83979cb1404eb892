//! Command-line surface of `ml-connector`: argument parsing, logging set-up,
//! and dispatch to one module per subcommand. Errors print as one line plus a
//! hint and map to documented exit codes.

mod demo;
mod sandbox;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// ml-connector: Procurify <-> PeopleSoft, one WebAssembly component per system.
#[derive(Debug, Parser)]
#[command(name = "ml-connector", version, about)]
struct Cli {
    /// Log filter (e.g. `info`, `mlc_host=debug`); also read from `MLC_LOG`.
    #[arg(long, global = true, env = "MLC_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start both sandbox systems in-process and exercise both connectors against them.
    Demo(demo::Args),
    /// Run the Procurify and PeopleSoft emulators standalone until Ctrl-C.
    Sandbox(sandbox::Args),
}

/// Exit codes: 0 success, 1 the command failed, 2 usage error (from clap).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Sandbox(args) => sandbox::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
