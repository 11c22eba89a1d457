use super::{Ctx, print_json};
use crate::ids::{SourceId, TenantId};
use crate::service::Actor;
use crate::service::imports::{self, ImportInput, ImportMode, ImportOptions, ProgressFn};
use argh::FromArgs;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;

/// import a JSON array of records into a source (FILE "-" reads stdin); exits 0 when every
/// record was imported, 3 when it imported the valid ones but rejected some, 1 on an error
/// (nothing written)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "import")]
pub struct Args {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the source's id (`sync-manager source list TENANT` lists them)
    #[argh(positional)]
    source: SourceId,
    /// a JSON array of objects, each with an "external_id" or "id"; "-" for stdin
    #[argh(positional)]
    file: String,
    /// the file is the complete current set: soft-delete live records missing from it
    #[argh(switch)]
    full: bool,
    /// let --full delete more than the source's max_delete_fraction (default 50%)
    #[argh(switch)]
    force: bool,
    /// reject the whole file if any record is invalid (nothing is written)
    #[argh(switch)]
    strict: bool,
    /// show what would happen, write nothing
    #[argh(switch)]
    dry_run: bool,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
    /// makes a retry safe (e.g. from cron): the same key and file within 24 hours print the
    /// first run's outcome instead of importing again
    #[argh(option)]
    idempotency_key: Option<String>,
}

/// sha256 (hex) of a file, for `--idempotency-key`.
fn file_hash(path: &str) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let mut file =
        std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot open {path}: {e}"))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?;
    Ok(hex::encode(hasher.finalize()))
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let stdin = args.file == super::STDIN_ARG || args.file == "-";
    let (input, size): (ImportInput, Option<u64>) = if stdin {
        (ImportInput::Reader(Box::new(std::io::stdin())), None)
    } else {
        let file = std::fs::File::open(&args.file)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.file))?;
        let meta = file.metadata().ok();
        let size = meta.as_ref().map(|m| m.len());
        if meta.is_some_and(|m| m.is_file()) {
            (ImportInput::File(file), size)
        } else {
            // A pipe or a device: read once.
            (ImportInput::Reader(Box::new(file)), size)
        }
    };
    let db = ctx.db().await?;
    let bar = std::io::stderr().is_terminal().then(|| match size {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    });
    let progress: Option<ProgressFn> = bar.clone().map(|bar| {
        Arc::new(move |p: imports::ImportProgress| {
            bar.set_position(p.bytes);
            bar.set_message(format!("{} records", p.records));
        }) as ProgressFn
    });
    let opts = ImportOptions {
        mode: if args.full {
            ImportMode::Full
        } else {
            ImportMode::Upsert
        },
        strict: args.strict,
        dry_run: args.dry_run,
        force: args.force,
    };
    let key = args.idempotency_key.filter(|_| !args.dry_run);
    let body_hash = match &key {
        Some(_) if stdin => anyhow::bail!(
            "--idempotency-key needs a file (the input is compared with the first run's)"
        ),
        Some(_) => file_hash(&args.file)?,
        None => String::new(),
    };
    let request = format!(
        "cli import source {} full={} strict={} force={}",
        args.source, args.full, args.strict, args.force
    );
    let actor = Actor::cli();
    let work = imports::import(&db, args.tenant, args.source, input, opts, &actor, progress);
    let result = super::with_key(&db, args.tenant, key, request, body_hash, work).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let outcome = match result? {
        super::Keyed::Fresh(outcome) => outcome,
        super::Keyed::Replayed(outcome) => {
            if args.json {
                return print_json(&outcome);
            }
            let s = &outcome["stats"];
            outln!(
                "Already imported under this idempotency key (run {}), nothing done now: \
                 Created: {}, Updated: {}, Unchanged: {}, Deleted: {}, Restored: {}, Rejected: {}",
                outcome["run_id"],
                s["created"],
                s["updated"],
                s["unchanged"],
                s["deleted"],
                s["restored"],
                s["rejected"]
            );
            return Ok(());
        }
    };
    let rejected = outcome.stats.rejected;
    let partial = move || -> anyhow::Result<()> {
        if rejected > 0 {
            return Err(super::Partial {
                code: super::EXIT_REJECTED,
                message: format!(
                    "{rejected} record(s) were rejected (listed above) and not imported"
                ),
            }
            .into());
        }
        Ok(())
    };
    if args.json {
        print_json(&outcome)?;
        return partial();
    }
    let s = outcome.stats;
    if outcome.dry_run {
        outln!("Dry run, nothing written.");
    }
    outln!(
        "Created: {}, Updated: {}, Unchanged: {}, Deleted: {}, Restored: {}, Rejected: {}",
        s.created,
        s.updated,
        s.unchanged,
        s.deleted,
        s.restored,
        s.rejected
    );
    if let Some(run) = outcome.run_id {
        outln!("Run: {run}");
    }
    for e in outcome.errors.iter().take(50) {
        match &e.external_id {
            Some(id) => outln!("  record {} ({id}): {}", e.index, e.reason),
            None => outln!("  record {}: {}", e.index, e.reason),
        }
    }
    if outcome.errors.len() > 50 {
        outln!(
            "  … and {} more (use --json for all)",
            outcome.errors.len() - 50
        );
    }
    partial()
}
