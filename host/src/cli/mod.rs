//! Command-line surface of `ml-connector`: argument parsing, logging set-up,
//! and dispatch to one module per subcommand. Human output by default and
//! `--json` for scripts; errors print as one `error:` line (plus the list of
//! problems when there are several) and a `hint:` line.
//!
//! Exit codes: 0 success; 1 failure (the error says what failed); 2 usage
//! (bad arguments, unknown tenant, flow or dead letter); 3 a flow halted,
//! `check` found set-up to do (the output lists what to do), or a flow runs
//! in another process (the output names it).

mod audit;
mod check;
mod dead_letters;
#[cfg(feature = "sandbox")]
mod demo;
mod dry_run;
mod init;
mod map;
mod progress;
mod report;
mod run;
#[cfg(feature = "sandbox")]
mod sandbox;
mod secrets;
mod status;
mod sync;

use clap::{Parser, Subcommand};
use mlc_host::manifest::Manifest;
use std::path::PathBuf;
use std::process::ExitCode;

/// ml-connector: Procurify <-> PeopleSoft, one WebAssembly component per system.
///
/// Exit codes: 0 ok, 1 failure, 2 usage error, 3 a flow halted or set-up is
/// missing (the output says what to do).
#[derive(Debug, Parser)]
#[command(name = "ml-connector", version, about, long_about)]
struct Cli {
    /// Log filter (e.g. `info`, `mlc_host=debug`); also read from `MLC_LOG`.
    #[arg(long, global = true, env = "MLC_LOG", default_value = "warn")]
    log: String,
    /// Log format (logs go to stderr).
    #[arg(
        long,
        global = true,
        env = "MLC_LOG_FORMAT",
        value_enum,
        default_value = "human"
    )]
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
    #[cfg(feature = "sandbox")]
    Demo(demo::Args),
    /// Create the vault key file and the store of a manifest.
    Init(init::Args),
    /// Test every connection and list what must be set up (exit 3 when something is missing).
    Check(check::Args),
    /// Run flows once (all, or one with --flow), in dependency order; --dry-run writes nothing.
    Sync(sync::Args),
    /// Run the daemon: every flow on its schedule, status page and /metrics, until Ctrl-C.
    Run(run::Args),
    /// Per flow: last run, ledger counts, cursor, next run, halted reason.
    Status(status::Args),
    /// Run one flow's mapping on a sample record; nothing is read or written.
    Map(map::Args),
    /// Records an operator must look at: list, replay or discard them.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(dead_letters::Command),
    /// Manage the encrypted secrets (values are prompted for or read from stdin, never shown).
    #[command(subcommand)]
    Secrets(secrets::Command),
    /// Inspect, export and verify the hash-chained audit log.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Run the Procurify and PeopleSoft emulators standalone until Ctrl-C.
    #[cfg(feature = "sandbox")]
    Sandbox(sandbox::Args),
}

/// What a command ended with.
pub enum Outcome {
    /// Everything done.
    Ok,
    /// A flow halted, or set-up is missing: the output says what to do.
    Halted,
}

/// An operator typed something that does not exist (tenant, flow, key):
/// exit code 2, like a clap usage error.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Exit code of a failure.
const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage error (clap uses it too).
const EXIT_USAGE: u8 = 2;
/// Exit code when a flow halted, set-up is missing, or a flow runs elsewhere.
const EXIT_HALTED: u8 = 3;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // wasmtime-wasi-http logs every refused connection at warn; the connector
    // reports it as a classified failure already, so keep it quiet unless asked.
    let directives = if cli.log.contains("wasmtime_wasi_http") {
        cli.log.clone()
    } else {
        format!("{},wasmtime_wasi_http=error", cli.log)
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
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
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            #[cfg(feature = "sandbox")]
            Command::Demo(args) => demo::run(args).await,
            Command::Init(args) => init::run(args).await,
            Command::Check(args) => check::run(args).await,
            Command::Sync(args) => sync::run(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Status(args) => status::run(args).await,
            Command::Map(args) => map::run(args).await,
            Command::DeadLetters(cmd) => dead_letters::run(cmd).await,
            Command::Secrets(cmd) => secrets::run(cmd).await,
            Command::Audit(cmd) => audit::run(cmd).await,
            #[cfg(feature = "sandbox")]
            Command::Sandbox(args) => sandbox::run(args).await.map(|()| Outcome::Ok),
        }
    });
    // Components may still hold sandboxes on worker threads; do not wait for them.
    runtime.shutdown_background();
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Halted) => ExitCode::from(EXIT_HALTED),
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(hint) = hint(&e) {
                eprintln!("hint: {hint}");
            }
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(EXIT_USAGE)
            } else if running_elsewhere(&e) {
                ExitCode::from(EXIT_HALTED)
            } else {
                ExitCode::from(EXIT_FAILURE)
            }
        }
    }
}

/// True when the command stopped because another process holds the flow
/// (exit 3, as `sync` does for a flow running elsewhere).
fn running_elsewhere(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<mlc_host::pipeline::PipelineError>(),
            Some(mlc_host::pipeline::PipelineError::LeaseHeld(_))
        ) || matches!(
            cause.downcast_ref::<mlc_host::app::AppError>(),
            Some(mlc_host::app::AppError::Pipeline(
                mlc_host::pipeline::PipelineError::LeaseHeld(_)
            ))
        )
    })
}

/// A next step for common errors.
fn hint(e: &anyhow::Error) -> Option<&'static str> {
    let text = format!("{e:#}");
    if text.contains("vault key") && text.contains("cannot read") {
        Some("run `ml-connector init` next to the manifest to create the key file and the store")
    } else if text.contains("vault key")
        && (text.contains("not base64") || text.contains("bytes; a vault key has 32"))
    {
        Some(
            "the key file must hold the base64 text `ml-connector init` wrote; restore it from your backup",
        )
    } else if text.contains("wrong vault key") {
        Some(
            "use the key file that was used when the secrets were stored (restore it from backup), or store the secrets again with `ml-connector secrets set`",
        )
    } else if text.contains("is not set; set it with") {
        Some(
            "`ml-connector secrets set <tenant> <name>` prompts for the value (or reads it from stdin)",
        )
    } else if text.contains(": (file): cannot read it") {
        Some("pass the manifest with --manifest <path> (or MLC_MANIFEST)")
    } else if text.contains("unknown field") {
        Some("the keys a manifest may use are shown, with comments, in the shipped manifest.toml")
    } else if text.contains("connection failed") || text.contains("Connection refused") {
        Some(
            "check that the system is up and that the connection's base_url (and token_url) are right; `ml-connector check` tests every connection",
        )
    } else if text.contains("no enabled flow") || text.contains("no flow ") {
        Some("`ml-connector status` lists the flows of the manifest")
    } else if text.contains("no tenant") || text.contains("pass --tenant") {
        Some("tenants are the [tenants.<name>] tables of the manifest")
    } else if text.contains("is running elsewhere") {
        Some(
            "another process runs the flow now; try again when it is done (`ml-connector status` shows who holds it)",
        )
    } else if text.contains("no dead letter") {
        Some("`ml-connector dead-letters list` shows the keys")
    } else {
        None
    }
}

/// The tenant a command works on: the one given, or the manifest's only one.
pub fn pick_tenant(manifest: &Manifest, tenant: Option<&str>) -> anyhow::Result<String> {
    match tenant {
        Some(t) if manifest.tenants.contains_key(t) => Ok(t.to_string()),
        Some(t) => {
            let known: Vec<&str> = manifest.tenants.keys().map(String::as_str).collect();
            Err(UsageError(format!(
                "no tenant {t:?} in {}; tenants are {known:?}",
                manifest.file.display()
            ))
            .into())
        }
        None if manifest.tenants.len() == 1 => {
            Ok(manifest.tenants.keys().next().cloned().unwrap_or_default())
        }
        None => {
            let known: Vec<&str> = manifest.tenants.keys().map(String::as_str).collect();
            Err(UsageError(format!(
                "{} has several tenants ({known:?}); pass --tenant",
                manifest.file.display()
            ))
            .into())
        }
    }
}

/// Refuses a flow name the tenant does not define.
pub fn check_flow(manifest: &Manifest, tenant: &str, flow: &str) -> anyhow::Result<()> {
    let flows = &manifest.tenants[tenant].flows;
    if flows.contains_key(flow) {
        return Ok(());
    }
    let known: Vec<&str> = flows.keys().map(String::as_str).collect();
    Err(UsageError(format!(
        "no flow {flow:?} in tenant {tenant}; flows are {known:?}"
    ))
    .into())
}

/// Time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn time_text(ms: u64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Proves the vault key opens the stored secrets of every tenant, so a wrong
/// key file fails here with its name instead of as a 401 in the middle of a run.
pub fn verify_vault_key(app: &mlc_host::app::App) -> anyhow::Result<()> {
    for tenant in app.manifest.tenants.keys() {
        for name in app.vault.names(tenant)? {
            if let Err(e) = app.vault.get(tenant, &name) {
                let key = match &app.manifest.vault_key {
                    mlc_host::manifest::VaultKeySource::File(p) => p.display().to_string(),
                    mlc_host::manifest::VaultKeySource::Env(v) => format!("${v}"),
                };
                anyhow::bail!(
                    "the vault key {key} does not open the secrets in {}: {e}",
                    app.manifest.store_path.display()
                );
            }
        }
    }
    Ok(())
}

/// Opens the store a manifest names; refuses to create one (that is `init`'s job).
pub fn open_store(manifest: &Manifest) -> anyhow::Result<mlc_host::store::SqliteStore> {
    if !manifest.store_path.exists() {
        anyhow::bail!(
            "store {} does not exist; create it with `ml-connector init --manifest {}`",
            manifest.store_path.display(),
            manifest.file.display()
        );
    }
    Ok(mlc_host::store::SqliteStore::open(&manifest.store_path)?)
}
