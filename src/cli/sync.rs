use super::{Ctx, print_json};
use crate::domain::merge::FieldConflict;
use crate::ids::{SourceId, TargetId, TenantId};
use crate::service::Actor;
use crate::service::sync::{self, SyncOptions};
use argh::FromArgs;

/// sync a source's records to a target, keeping manual edits made on the target; exits 0, or
/// 4 with --fail-on-warnings when the sync raised warnings, 1 on an error (nothing written)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "sync")]
pub struct Args {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the source's id (`sync-manager source list TENANT` lists them)
    #[argh(positional)]
    source: SourceId,
    /// the target's id (`sync-manager target list TENANT` lists them)
    #[argh(positional)]
    target: TargetId,
    /// print the plan (one line per record that would change), write nothing
    #[argh(switch)]
    dry_run: bool,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
    /// makes a retry safe (e.g. from cron): the same key within 24 hours prints the first
    /// run's outcome instead of syncing again
    #[argh(option)]
    idempotency_key: Option<String>,
    /// exit with status 4 when the sync raised warnings (conflicts and the like wait for a
    /// decision: `sync-manager warning list TENANT`), so that a cron job notices
    #[argh(switch)]
    fail_on_warnings: bool,
}

/// Status 4 for `--fail-on-warnings` when `n` warnings were raised.
fn warned(fail_on_warnings: bool, n: u64, tenant: TenantId) -> anyhow::Result<()> {
    if fail_on_warnings && n > 0 {
        return Err(super::Partial {
            code: super::EXIT_WARNINGS,
            message: format!(
                "the sync raised {}: someone must decide (`sync-manager warning list {tenant}`)",
                if n == 1 {
                    "1 warning".to_string()
                } else {
                    format!("{n} warnings")
                }
            ),
        }
        .into());
    }
    Ok(())
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
    let actor = Actor::cli();
    let work = sync::sync(&db, args.tenant, args.source, args.target, opts, &actor);
    let key = args.idempotency_key.filter(|_| !args.dry_run);
    let request = format!("cli sync {} {}", args.source, args.target);
    let outcome = match super::with_key(&db, args.tenant, key, request, String::new(), work).await?
    {
        super::Keyed::Fresh(outcome) => outcome,
        super::Keyed::Replayed(outcome) => {
            let n = outcome["stats"]["warnings"].as_u64().unwrap_or(0);
            if args.json {
                print_json(&outcome)?;
                return warned(args.fail_on_warnings, n, args.tenant);
            }
            let s = &outcome["stats"];
            outln!(
                "Already synced under this idempotency key (run {}), nothing done now: \
                 Created: {}, Updated: {}, Unchanged: {}, Deleted: {}, Warnings: {}",
                outcome["run_id"],
                s["created"],
                s["updated"],
                s["unchanged"],
                s["deleted"],
                s["warnings"]
            );
            return warned(args.fail_on_warnings, n, args.tenant);
        }
    };
    if args.json {
        print_json(&outcome)?;
        return warned(args.fail_on_warnings, outcome.stats.warnings, args.tenant);
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
    warned(args.fail_on_warnings, s.warnings, args.tenant)
}
