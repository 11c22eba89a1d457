//! `sync-manager source`: sources, where records come from.
use super::{Ctx, parse_json_arg, print_json};
use crate::ids::{SourceId, TenantId};
use crate::service::endpoints::{EndpointUpdate, NewEndpoint};
use crate::service::sources;
use argh::FromArgs;

/// manage sources (where records come from)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "source")]
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
    /// json (default), scraped, manual or api (for now records are imported into every type;
    /// nothing is fetched yet)
    #[argh(option, long = "type")]
    kind: Option<String>,
    /// config JSON object with max_delete_fraction (0 to 1: the largest share of live records a
    /// full import may delete), e.g. '{"max_delete_fraction": 0.2}'; other keys are refused
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
    id: SourceId,
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
    id: SourceId,
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
    id: SourceId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

fn show(e: &crate::entity::sources::Model, json: bool) -> anyhow::Result<()> {
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
                kind: a.kind.unwrap_or_else(|| "json".to_string()),
                config: config(a.config)?,
            };
            let e = sources::create(&db, a.tenant, new).await?;
            if !a.json {
                outln!("Created {} {}", "source", e.id);
            }
            show(&e, a.json)
        }
        Command::List(a) => {
            let all = sources::list(&db, a.tenant).await?;
            if a.json {
                return print_json(&all);
            }
            all.iter().try_for_each(|e| show(e, false))
        }
        Command::Show(a) => show(&sources::get(&db, a.tenant, a.id).await?, a.json),
        Command::Update(a) => {
            let update = EndpointUpdate {
                name: a.name,
                kind: a.kind,
                config: config(a.config)?,
            };
            show(&sources::update(&db, a.tenant, a.id, update).await?, a.json)
        }
        Command::Delete(a) => {
            sources::delete(&db, a.tenant, a.id).await?;
            if a.json {
                return print_json(&serde_json::json!({"deleted": a.id}));
            }
            outln!("Deleted {} {}", "source", a.id);
            Ok(())
        }
    }
}
