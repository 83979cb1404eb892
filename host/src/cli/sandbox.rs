//! `ml-connector sandbox`: the Procurify and PeopleSoft emulators standalone,
//! with their URLs and demo credentials printed, until Ctrl-C.

use anyhow::Context;
use mlc_sandbox::peoplesoft::{DEMO_PASSWORD, DEMO_USER, PeopleSoftConfig, PeopleSoftSandbox};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox};
use std::net::SocketAddr;

/// Arguments of `sandbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port of the Procurify emulator on 127.0.0.1 (0: any free port); the
    /// shipped manifest.toml expects 8701.
    #[arg(long, default_value_t = 8701)]
    procurify_port: u16,
    /// Port of the PeopleSoft emulator on 127.0.0.1 (0: any free port); the
    /// shipped manifest.toml expects 8702.
    #[arg(long, default_value_t = 8702)]
    peoplesoft_port: u16,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Number of Procurify requisitions to generate.
    #[arg(long, default_value_t = 300)]
    size: usize,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let procurify_config = ProcurifyConfig {
        seed: args.seed,
        requisitions: args.size,
        ..ProcurifyConfig::default()
    };
    let (client_id, client_secret) = (
        procurify_config.client_id.clone(),
        procurify_config.client_secret.clone(),
    );
    let procurify = ProcurifySandbox::start_on(
        SocketAddr::from(([127, 0, 0, 1], args.procurify_port)),
        procurify_config,
    )
    .await
    .with_context(|| {
        format!(
            "starting the Procurify emulator on port {}",
            args.procurify_port
        )
    })?;
    let peoplesoft = PeopleSoftSandbox::start_on(
        SocketAddr::from(([127, 0, 0, 1], args.peoplesoft_port)),
        PeopleSoftConfig {
            seed: args.seed,
            ..PeopleSoftConfig::default()
        },
    )
    .await
    .with_context(|| {
        format!(
            "starting the PeopleSoft emulator on port {}",
            args.peoplesoft_port
        )
    })?;

    println!("Procurify emulator   {}", procurify.base_url());
    println!("  token URL          {}", procurify.token_url());
    println!("  client id / secret {client_id} / {client_secret}  (demo credentials)");
    println!("PeopleSoft emulator  {}", peoplesoft.base_url());
    println!("  listener           {}", peoplesoft.listener_url());
    println!("  user / password    {DEMO_USER} / {DEMO_PASSWORD}  (demo credentials)");
    println!("  token URL          {}", peoplesoft.token_url());
    println!("Ctrl-C stops both.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
