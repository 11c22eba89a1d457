use super::{Ctx, print_json};
use crate::ids::{SourceId, TenantId};
use crate::ingest::format::shape_of_name;
use crate::service::Actor;
use crate::service::imports::{self, ImportInput, ImportMode, ImportOptions, ProgressFn};
use argh::FromArgs;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;

/// import records into a source: a JSON array, an object with a "data" array, or NDJSON (one
/// record per line; by a .ndjson or .jsonl name, or by its content); FILE "-" reads stdin. Exits 0 when
/// every record was imported, 3 when it imported the valid ones but rejected some, 4 with
/// --fail-on-warnings when the run raised warnings, 1 on an error (nothing written)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "import")]
pub struct Args {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the source's id (`sync-manager source list TENANT` lists them)
    #[argh(positional)]
    source: SourceId,
    /// records as a JSON array, {"data": [...]} or NDJSON, each an object with an
    /// "external_id" or "id"; "-" for stdin
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
    /// exit with status 4 (instead of 3) when the import raised a warning (rejected records
    /// wait for someone to look at them), so that a cron job can tell it from other outcomes
    #[argh(switch)]
    fail_on_warnings: bool,
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
        // The name says NDJSON or CSV; else the content says how the records are laid out.
        let by_name =
            shape_of_name(&args.file).map_err(|e| anyhow::anyhow!("{}: {e}", args.file))?;
        let file = std::fs::File::open(&args.file)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.file))?;
        let meta = file.metadata().ok();
        let size = meta.as_ref().map(|m| m.len());
        match by_name {
            Some(shape) => (ImportInput::Body(Box::new(file), shape), size),
            None if meta.is_some_and(|m| m.is_file()) => (ImportInput::File(file), size),
            // A pipe or a device: read once.
            None => (ImportInput::Reader(Box::new(file)), size),
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
    let fail_on_warnings = args.fail_on_warnings;
    let partial = move || -> anyhow::Result<()> {
        if rejected > 0 {
            // The import raised a warning of its rejected records.
            return Err(super::Partial {
                code: if fail_on_warnings {
                    super::EXIT_WARNINGS
                } else {
                    super::EXIT_REJECTED
                },
                message: format!(
                    "{} rejected (listed above) and not imported",
                    if rejected == 1 {
                        "1 record was".to_string()
                    } else {
                        format!("{rejected} records were")
                    }
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
        if !outcome.preview.is_empty() {
            outln!("Plan:");
        }
        for p in &outcome.preview {
            let title = p
                .title
                .as_ref()
                .map(|t| format!(" “{t}”"))
                .unwrap_or_default();
            if p.fields.is_empty() {
                outln!("  {} {}{title}", p.action, p.external_id);
            } else {
                outln!(
                    "  {} {}{title} ({})",
                    p.action,
                    p.external_id,
                    p.fields.join(", ")
                );
            }
        }
        let listed = outcome.preview.len() as u64;
        let changing = s.created + s.updated + s.restored + s.deleted;
        if changing > listed {
            outln!("  … and {} more", changing - listed);
        }
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
