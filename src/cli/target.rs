//! `sync-manager target`: targets, where records go.
use super::{Ctx, parse_json_arg, print_json};
use crate::ids::{TargetId, TenantId};
use crate::service::endpoints::{EndpointUpdate, NewEndpoint};
use crate::service::targets;
use argh::FromArgs;

/// manage targets (where records go)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "target")]
pub struct Args {
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum Command {
    Create(Create),
    List(List),
    Show(Show),
    Update(Update),
    Delete(Delete),
}

/// create one
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "create")]
struct Create {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// a name for it
    #[argh(positional)]
    name: String,
    /// website (default: your website reads the records through the API), or database, api, webhook
    /// or file (for now these keep the records here; nothing is sent yet)
    #[argh(option, long = "type")]
    kind: Option<String>,
    /// config JSON object with conflict_policy (merge, keep_target, overwrite) and delete_policy
    /// (mark, ignore), e.g. '{"conflict_policy": "merge", "delete_policy": "mark"}'; other keys are
    /// refused
    #[argh(option)]
    config: Option<String>,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// list all of a tenant's
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
struct List {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// show one
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "show")]
struct Show {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// its id (the list command shows them)
    #[argh(positional)]
    id: TargetId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// change the name, type or config of one
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "update")]
struct Update {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// its id (the list command shows them)
    #[argh(positional)]
    id: TargetId,
    /// new name
    #[argh(option)]
    name: Option<String>,
    /// new type
    #[argh(option, long = "type")]
    kind: Option<String>,
    /// new config JSON object (replaces the old one)
    #[argh(option)]
    config: Option<String>,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// delete one, with its properties
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "delete")]
struct Delete {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// its id (the list command shows them)
    #[argh(positional)]
    id: TargetId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

fn show(e: &crate::entity::targets::Model, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(e);
    }
    outln!("{}\t{}\t{}\t{}", e.id, e.name, e.kind, e.config);
    Ok(())
}

fn config(text: Option<String>) -> anyhow::Result<Option<serde_json::Value>> {
    text.as_deref()
        .map(|c| parse_json_arg("--config", c))
        .transpose()
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        Command::Create(a) => {
            let new = NewEndpoint {
                name: a.name,
                kind: a.kind.unwrap_or_else(|| "website".to_string()),
                config: config(a.config)?,
            };
            let e = targets::create(&db, a.tenant, new).await?;
            if !a.json {
                outln!("Created {} {}", "target", e.id);
            }
            show(&e, a.json)
        }
        Command::List(a) => {
            let all = targets::list(&db, a.tenant).await?;
            if a.json {
                return print_json(&all);
            }
            all.iter().try_for_each(|e| show(e, false))
        }
        Command::Show(a) => show(&targets::get(&db, a.tenant, a.id).await?, a.json),
        Command::Update(a) => {
            let update = EndpointUpdate {
                name: a.name,
                kind: a.kind,
                config: config(a.config)?,
            };
            show(&targets::update(&db, a.tenant, a.id, update).await?, a.json)
        }
        Command::Delete(a) => {
            targets::delete(&db, a.tenant, a.id).await?;
            if a.json {
                return print_json(&serde_json::json!({"deleted": a.id}));
            }
            outln!("Deleted {} {}", "target", a.id);
            Ok(())
        }
    }
}
