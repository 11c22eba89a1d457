use super::{Ctx, print_json};
use crate::domain::merge::FieldConflict;
use crate::ids::{SourceId, TargetId, TenantId};
use crate::service::Actor;
use crate::service::sync::{self, SyncOptions};
use argh::FromArgs;

/// sync a source's records to a target, keeping manual edits made on the target
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "sync")]
pub struct Args {
    #[argh(positional)]
    tenant: TenantId,
    #[argh(positional)]
    source: SourceId,
    #[argh(positional)]
    target: TargetId,
    /// print the plan (one line per record that would change), write nothing
    #[argh(switch)]
    dry_run: bool,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

fn show(v: &Option<serde_json::Value>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "(absent)".into())
}

pub(crate) fn print_fields(fields: &[FieldConflict]) {
    for f in fields {
        outln!(
            "    {}: base {}, source {}, target {}",
            f.field,
            show(&f.base),
            show(&f.source),
            show(&f.target)
        );
    }
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let opts = SyncOptions {
        dry_run: args.dry_run,
    };
    let outcome = sync::sync(
        &db,
        args.tenant,
        args.source,
        args.target,
        opts,
        &Actor::cli(),
    )
    .await?;
    if args.json {
        return print_json(&outcome);
    }
    let s = outcome.stats;
    if outcome.dry_run {
        outln!("Dry run, nothing written. Plan:");
        for p in &outcome.plan {
            if p.fields.is_empty() {
                outln!("  {} {}", p.action.as_str(), p.external_id);
            } else {
                outln!(
                    "  {} {} ({})",
                    p.action.as_str(),
                    p.external_id,
                    p.fields.join(", ")
                );
            }
        }
    }
    outln!(
        "Created: {}, Updated: {}, Unchanged: {}, Deleted: {}, Warnings: {}",
        s.created,
        s.updated,
        s.unchanged,
        s.deleted,
        s.warnings
    );
    if let Some(run) = outcome.run_id {
        outln!("Run: {run}");
    }
    for w in &outcome.warnings {
        match w.id {
            Some(id) => outln!("Warning {id} [{}]: {}", w.kind, w.message),
            None => outln!("Warning [{}]: {}", w.kind, w.message),
        }
        print_fields(&w.fields);
    }
    Ok(())
}
