use super::{Ctx, print_json, when};
use crate::domain::warning::WarningStatus;
use crate::ids::{TenantId, WarningId};
use crate::service::Actor;
use crate::service::warnings::{self, Resolution, WarningFilter};
use argh::FromArgs;

/// list warnings or resolve one
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "warning")]
pub struct Args {
    #[argh(subcommand)]
    command: WarningCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum WarningCommand {
    List(List),
    Resolve(Resolve),
}

/// list open warnings (newest first)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
struct List {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// include resolved warnings
    #[argh(switch)]
    all: bool,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// resolve a warning: keep_target (accept the manual values) or take_source
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "resolve")]
struct Resolve {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the warning's id (`sync-manager warning list TENANT` lists them)
    #[argh(positional)]
    warning: WarningId,
    /// keep_target or take_source
    #[argh(positional)]
    resolution: Resolution,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        WarningCommand::List(a) => {
            let filter = WarningFilter {
                status: (!a.all).then(|| WarningStatus::Open.to_string()),
                ..Default::default()
            };
            crate::service::scope::get(&db, a.tenant).await?;
            let all = warnings::list(&db, a.tenant, &filter).await?;
            if a.json {
                return print_json(&all);
            }
            if all.is_empty() {
                outln!("No {}warnings.", if a.all { "" } else { "open " });
            }
            for w in &all {
                outln!(
                    "Warning {} [{}] {} {}: {}",
                    w.id,
                    w.kind,
                    w.status,
                    when(&w.created_at),
                    w.message
                );
                super::sync::print_fields(&warnings::fields(w));
            }
            Ok(())
        }
        WarningCommand::Resolve(a) => {
            let out =
                warnings::resolve(&db, a.tenant, a.warning, a.resolution, &Actor::cli()).await?;
            if a.json {
                return print_json(&out);
            }
            outln!(
                "Resolved warning {} with {} ({}; run {})",
                a.warning,
                a.resolution.as_str(),
                if out.changed {
                    "target updated"
                } else {
                    "target unchanged"
                },
                out.run_id
            );
            Ok(())
        }
    }
}
