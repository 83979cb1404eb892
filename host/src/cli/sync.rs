//! `ml-connector sync`: runs flows once (all enabled ones, or one) and prints
//! what each did. Exit code 3 when a flow halted for the operator.

use super::{ManifestArg, Outcome, report};
use mlc_host::app::{App, AppOptions};

/// Arguments of `sync`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    manifest: ManifestArg,
    /// Only this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Only this flow.
    #[arg(long)]
    flow: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let app = App::open(&args.manifest.manifest, AppOptions::default()).await?;
    let reports = app
        .sync(args.tenant.as_deref(), args.flow.as_deref())
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&reports))?);
    } else {
        print!("{}", report::table(&reports));
    }
    Ok(if report::any_halted(&reports) {
        Outcome::Halted
    } else {
        Outcome::Ok
    })
}
