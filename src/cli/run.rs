use super::{Ctx, print_json, when};
use crate::ids::{RunId, TenantId};
use crate::service::Actor;
use crate::service::{runs, snapshots};
use argh::FromArgs;

/// list runs (the audit trail), show one, or roll one back
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "run")]
pub struct Args {
    #[argh(subcommand)]
    command: RunCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum RunCommand {
    List(List),
    Show(Show),
    Rollback(Rollback),
}

/// list a tenant's runs, newest first
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
struct List {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// how many (default 20)
    #[argh(option, default = "20")]
    limit: u64,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// show one run with its stats
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "show")]
struct Show {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the run's id (`sync-manager run list TENANT` lists them)
    #[argh(positional)]
    run: RunId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// return every property a run changed to its pre-run version
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "rollback")]
struct Rollback {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the run's id (`sync-manager run list TENANT` lists them)
    #[argh(positional)]
    run: RunId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

fn line(r: &crate::entity::runs::Model) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\tby {}",
        r.id,
        r.kind,
        r.status,
        when(&r.started_at),
        r.stats,
        r.actor
    )
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        RunCommand::List(a) => {
            crate::service::scope::get(&db, a.tenant).await?;
            let all = runs::list(&db, a.tenant, a.limit.clamp(1, 1000), None).await?;
            if a.json {
                return print_json(&all);
            }
            all.iter().for_each(|r| outln!("{}", line(r)));
            Ok(())
        }
        RunCommand::Show(a) => {
            let r = runs::get(&db, a.tenant, a.run).await?;
            if a.json {
                return print_json(&r);
            }
            outln!("{}", line(&r));
            if let Some(detail) = &r.detail {
                outln!("{detail}");
            }
            Ok(())
        }
        RunCommand::Rollback(a) => {
            let out = snapshots::rollback_run(&db, a.tenant, a.run, &Actor::cli()).await?;
            if a.json {
                return print_json(&out);
            }
            outln!(
                "Rolled back run {}: Restored: {}, Removed: {}, Skipped: {} (run {})",
                a.run,
                out.restored,
                out.removed,
                out.skipped.len(),
                out.run_id
            );
            for s in &out.skipped {
                outln!(
                    "  skipped {} {}: {}",
                    s.property_kind.as_str(),
                    s.external_id,
                    s.reason
                );
            }
            Ok(())
        }
    }
}
