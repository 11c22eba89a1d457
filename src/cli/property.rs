use super::{Ctx, parse_json_arg, print_json, when};
use crate::entity::target_properties;
use crate::ids::{Owner, SourceId, TargetId, TenantId};
use crate::service::Actor;
use crate::service::properties::{self, PropertyFilter, has_manual_changes};
use argh::FromArgs;

/// list, show and edit properties (records) of a source or target
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "property")]
pub struct Args {
    #[argh(subcommand)]
    command: PropertyCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum PropertyCommand {
    List(List),
    Show(Show),
    Edit(Edit),
    Add(Add),
    Delete(Delete),
}

/// list the properties of a source or a target
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
struct List {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// a source id
    #[argh(option)]
    source: Option<SourceId>,
    /// a target id
    #[argh(option)]
    target: Option<TargetId>,
    /// only target properties edited by hand since the last sync
    #[argh(switch)]
    manual: bool,
    /// include soft-deleted properties
    #[argh(switch)]
    all: bool,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// show one property with its data
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "show")]
struct Show {
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

/// edit a target property by hand (or a property of a manual source) with a JSON merge patch
/// of its data (null removes a field)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "edit")]
struct Edit {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the record's id (its external_id, or id)
    #[argh(positional)]
    external_id: String,
    /// the JSON merge patch of the record, as one quoted argument: its fields go inside
    /// "data", e.g. '{"data": {"title": "New", "pool": null}}' (null removes a field)
    #[argh(positional)]
    patch: String,
    /// a manual source id
    #[argh(option)]
    source: Option<SourceId>,
    /// a target id
    #[argh(option)]
    target: Option<TargetId>,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// add a record to a manual source
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "add")]
struct Add {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the source's id (`sync-manager source list TENANT` lists them)
    #[argh(positional)]
    source: SourceId,
    /// the record, a JSON object with an id, as one quoted argument, e.g.
    /// '{"id": "P9", "title": "Villa"}'
    #[argh(positional)]
    record: String,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// delete (soft) a record of a manual source
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "delete")]
struct Delete {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the source's id (`sync-manager source list TENANT` lists them)
    #[argh(positional)]
    source: SourceId,
    /// the record's id (its external_id, or id)
    #[argh(positional)]
    external_id: String,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// The source or target of `--source ID` / `--target ID` (exactly one of them).
pub(crate) fn owner(source: Option<SourceId>, target: Option<TargetId>) -> anyhow::Result<Owner> {
    match (source, target) {
        (Some(s), None) => Ok(Owner::Source(s)),
        (None, Some(t)) => Ok(Owner::Target(t)),
        _ => anyhow::bail!("give exactly one of --source ID or --target ID"),
    }
}

/// A target property as JSON, with the derived `has_manual_changes`.
fn target_json(p: &target_properties::Model) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(p)?;
    v["has_manual_changes"] = has_manual_changes(p).into();
    Ok(v)
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let actor = Actor::cli();
    match args.command {
        PropertyCommand::List(a) => {
            let filter = PropertyFilter {
                has_manual_changes: a.manual.then_some(true),
                include_deleted: a.all,
                ..Default::default()
            };
            match owner(a.source, a.target)? {
                Owner::Source(s) => {
                    if a.manual {
                        anyhow::bail!("--manual applies to target properties only");
                    }
                    let all = properties::list_source(&db, a.tenant, s, &filter).await?;
                    if a.json {
                        return print_json(&all);
                    }
                    if all.is_empty() {
                        outln!("No records.");
                    } else {
                        outln!("ID\tHASH (start)\tSTATE\tLAST CHANGED");
                    }
                    for p in all {
                        let state = if p.deleted_at.is_some() {
                            "deleted"
                        } else {
                            "live"
                        };
                        outln!(
                            "{}\t{}\t{}\tupdated {}",
                            p.external_id,
                            &p.hash[..12],
                            state,
                            when(&p.updated_at)
                        );
                    }
                }
                Owner::Target(t) => {
                    let all = properties::list_target(&db, a.tenant, t, &filter).await?;
                    if a.json {
                        return print_json(&all);
                    }
                    if all.is_empty() {
                        outln!("No records.");
                    } else {
                        outln!("ID\tHASH (start)\tSTATE\tLAST CHANGED");
                    }
                    for p in all {
                        let mut state = if p.deleted_at.is_some() {
                            "deleted"
                        } else {
                            "live"
                        }
                        .to_string();
                        if has_manual_changes(&p) {
                            state.push_str(", edited by hand");
                        }
                        outln!(
                            "{}\t{}\t{}\tupdated {}",
                            p.external_id,
                            &p.hash[..12],
                            state,
                            when(&p.updated_at)
                        );
                    }
                }
            }
            Ok(())
        }
        PropertyCommand::Show(a) => {
            let (json, data) = match owner(a.source, a.target)? {
                Owner::Source(s) => {
                    let p = properties::get_source(&db, a.tenant, s, &a.external_id).await?;
                    (serde_json::to_value(&p)?, p.data)
                }
                Owner::Target(t) => {
                    let p = properties::get_target(&db, a.tenant, t, &a.external_id).await?;
                    (target_json(&p)?, p.data)
                }
            };
            if a.json {
                return print_json(&json);
            }
            let data: serde_json::Value = serde_json::from_str(&data)?;
            outln!("{}", serde_json::to_string_pretty(&data)?);
            Ok(())
        }
        PropertyCommand::Edit(a) => {
            let patch = parse_json_arg("the patch", &a.patch)?;
            let json = match owner(a.source, a.target)? {
                Owner::Source(s) => serde_json::to_value(
                    properties::patch_manual(&db, a.tenant, s, &a.external_id, &patch, &actor)
                        .await?,
                )?,
                Owner::Target(t) => {
                    let (p, _) =
                        properties::patch_target(&db, a.tenant, t, &a.external_id, &patch, &actor)
                            .await?;
                    target_json(&p)?
                }
            };
            if a.json {
                return print_json(&json);
            }
            outln!("Updated {}", a.external_id);
            Ok(())
        }
        PropertyCommand::Add(a) => {
            let record = parse_json_arg("the record", &a.record)?;
            let p = properties::create_manual(&db, a.tenant, a.source, &record, &actor).await?;
            if a.json {
                return print_json(&p);
            }
            outln!("Created {}", p.external_id);
            Ok(())
        }
        PropertyCommand::Delete(a) => {
            let run =
                properties::delete_manual(&db, a.tenant, a.source, &a.external_id, &actor).await?;
            if a.json {
                return print_json(&serde_json::json!({"deleted": a.external_id, "run_id": run}));
            }
            outln!("Deleted {}", a.external_id);
            Ok(())
        }
    }
}
