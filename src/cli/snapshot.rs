use super::{Ctx, print_json, when};
use crate::ids::Side;
use crate::ids::{SnapshotId, SourceId, TargetId, TenantId};
use crate::service::Actor;
use crate::service::properties;
use crate::service::snapshots;
use argh::FromArgs;

/// list the previous versions of a property, or restore one
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "snapshot")]
pub struct Args {
    #[argh(subcommand)]
    command: SnapshotCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum SnapshotCommand {
    List(List),
    Restore(Restore),
}

/// list the snapshots of one property, newest first
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
struct List {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the record's id (its external_id, or id)
    #[argh(positional)]
    external_id: String,
    /// a source id
    #[argh(option)]
    source: Option<SourceId>,
    /// a target id
    #[argh(option)]
    target: Option<TargetId>,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// put a snapshot back onto its property (the current version is snapshotted first)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "restore")]
struct Restore {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the snapshot's id (`sync-manager snapshot list` lists them)
    #[argh(positional)]
    snapshot: SnapshotId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        SnapshotCommand::List(a) => {
            let (kind, id) = match (a.source, a.target) {
                (Some(s), None) => (
                    Side::Source,
                    properties::get_source(&db, a.tenant, s, &a.external_id)
                        .await?
                        .id,
                ),
                (None, Some(t)) => (
                    Side::Target,
                    properties::get_target(&db, a.tenant, t, &a.external_id)
                        .await?
                        .id,
                ),
                _ => anyhow::bail!("give exactly one of --source ID or --target ID"),
            };
            let all = snapshots::list_for_property(&db, a.tenant, kind, id).await?;
            if a.json {
                return print_json(&all);
            }
            if all.is_empty() {
                outln!(
                    "No snapshots: {} has not changed since it was created.",
                    a.external_id
                );
            }
            for s in all {
                outln!(
                    "{}\t{}\trun {}\t{}\t{}",
                    s.id,
                    when(&s.created_at),
                    s.run_id.map(|r| r.to_string()).unwrap_or_default(),
                    s.reason,
                    s.data
                );
            }
            Ok(())
        }
        SnapshotCommand::Restore(a) => {
            let out = snapshots::restore(&db, a.tenant, a.snapshot, &Actor::cli()).await?;
            if a.json {
                return print_json(&out);
            }
            outln!(
                "Restored snapshot {} onto {} property {} (run {})",
                a.snapshot,
                out.property_kind.as_str(),
                out.external_id,
                out.run_id
            );
            Ok(())
        }
    }
}
