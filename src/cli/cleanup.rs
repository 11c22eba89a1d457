use super::{Ctx, print_json, when};
use crate::ids::TenantId;
use crate::service::Actor;
use crate::service::cleanup;
use argh::FromArgs;

/// delete snapshots, resolved warnings and finished runs older than N days
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "cleanup")]
pub struct Args {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// age in days (default: the tenant's retention setting, 30 unless changed)
    #[argh(option)]
    days: Option<i64>,
    /// only count what would be removed
    #[argh(switch)]
    dry_run: bool,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let out = cleanup::cleanup(&db, args.tenant, args.days, args.dry_run, &Actor::cli()).await?;
    if args.json {
        return print_json(&out);
    }
    let verb = if out.dry_run {
        "Would remove"
    } else {
        "Removed"
    };
    outln!(
        "{verb} (older than {} days, before {}): Snapshots: {}, Warnings: {}, Runs: {}",
        out.days,
        when(&out.cutoff),
        out.snapshots,
        out.warnings,
        out.runs
    );
    Ok(())
}
