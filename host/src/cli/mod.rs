//! Command-line surface of `ml-connector`: argument parsing, logging set-up,
//! and dispatch to one module per subcommand. Errors print as one line plus a
//! hint; exit codes: 0 success, 1 failure, 2 usage error, 3 a flow halted and
//! needs the operator (the message says what to do).

mod audit;
mod demo;
mod init;
mod report;
mod run;
mod sandbox;
mod secrets;
mod sync;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// ml-connector: Procurify <-> PeopleSoft, one WebAssembly component per system.
#[derive(Debug, Parser)]
#[command(name = "ml-connector", version, about)]
struct Cli {
    /// Log filter (e.g. `info`, `mlc_host=debug`); also read from `MLC_LOG`.
    #[arg(long, global = true, env = "MLC_LOG", default_value = "warn")]
    log: String,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

/// The manifest argument shared by commands that run a deployment.
#[derive(Debug, clap::Args)]
pub struct ManifestArg {
    /// The deployment manifest.
    #[arg(
        long,
        short = 'm',
        env = "MLC_MANIFEST",
        default_value = "manifest.toml"
    )]
    manifest: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start both sandbox systems in-process and run every flow against them.
    Demo(demo::Args),
    /// Create the vault key file and the store of a manifest.
    Init(init::Args),
    /// Run flows once (all, or one with --flow), in dependency order.
    Sync(sync::Args),
    /// Run the daemon: every flow on its schedule, until Ctrl-C.
    Run(run::Args),
    /// Manage the encrypted secrets (values are read from stdin, never shown).
    #[command(subcommand)]
    Secrets(secrets::Command),
    /// Inspect, export and verify the hash-chained audit log.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Run the Procurify and PeopleSoft emulators standalone until Ctrl-C.
    Sandbox(sandbox::Args),
}

/// What a command ended with.
pub enum Outcome {
    /// Everything done.
    Ok,
    /// A flow halted for the operator.
    Halted,
}

/// Exit code when a flow halted for the operator.
const EXIT_HALTED: u8 = 3;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
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
            Command::Init(args) => init::run(args).await,
            Command::Sync(args) => sync::run(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Secrets(cmd) => secrets::run(cmd).await,
            Command::Audit(cmd) => audit::run(cmd).await,
            Command::Sandbox(args) => sandbox::run(args).await.map(|()| Outcome::Ok),
        }
    });
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Halted) => ExitCode::from(EXIT_HALTED),
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(hint) = hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// A next step for common errors.
fn hint(e: &anyhow::Error) -> Option<&'static str> {
    let text = format!("{e:#}");
    if text.contains("vault key") && text.contains("cannot read") {
        Some("run `ml-connector init` next to the manifest to create the key file and the store")
    } else if text.contains("is not set; set it with") {
        Some(
            "secrets are read from stdin: `printf %s 'value' | ml-connector secrets set <tenant> <name>`",
        )
    } else if text.contains("manifest.toml: (file)") {
        Some("pass the manifest with --manifest <path> (or MLC_MANIFEST)")
    } else {
        None
    }
}
