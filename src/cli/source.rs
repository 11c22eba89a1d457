use super::{Ctx, parse_json_arg, print_json};
use crate::ids::{SourceId, TenantId};
use crate::service::sources::{self, NewSource, SourceUpdate};
use argh::FromArgs;

/// manage sources (where records come from)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "source")]
pub struct Args {
    #[argh(subcommand)]
    command: SourceCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum SourceCommand {
    Create(Create),
    List(List),
    Show(Show),
    Update(Update),
    Delete(Delete),
}

/// create a source
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "create")]
struct Create {
    #[argh(positional)]
    tenant: TenantId,
    #[argh(positional)]
    name: String,
    /// json, csv, scraped, manual or api (default json)
    #[argh(option, long = "type", default = "String::from(\"json\")")]
    kind: String,
    /// config JSON object, e.g. '{"max_delete_fraction": 0.2}'
    #[argh(option)]
    config: Option<String>,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// list a tenant's sources
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
struct List {
    #[argh(positional)]
    tenant: TenantId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// show one source
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "show")]
struct Show {
    #[argh(positional)]
    tenant: TenantId,
    #[argh(positional)]
    id: SourceId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// change a source's name, type or config
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "update")]
struct Update {
    #[argh(positional)]
    tenant: TenantId,
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

/// delete a source and its properties
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "delete")]
struct Delete {
    #[argh(positional)]
    tenant: TenantId,
    #[argh(positional)]
    id: SourceId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

fn show(s: &crate::entity::sources::Model, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(s);
    }
    println!("{}\t{}\t{}\t{}", s.id, s.name, s.kind, s.config);
    Ok(())
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        SourceCommand::Create(a) => {
            let config = a
                .config
                .as_deref()
                .map(|c| parse_json_arg("--config", c))
                .transpose()?;
            let s = sources::create(
                &db,
                a.tenant,
                NewSource {
                    name: a.name,
                    kind: a.kind,
                    config,
                },
            )
            .await?;
            if !a.json {
                println!("Source id: {}", s.id);
            }
            show(&s, a.json)
        }
        SourceCommand::List(a) => {
            let all = sources::list(&db, a.tenant).await?;
            if a.json {
                return print_json(&all);
            }
            all.iter().try_for_each(|s| show(s, false))
        }
        SourceCommand::Show(a) => show(&sources::get(&db, a.tenant, a.id).await?, a.json),
        SourceCommand::Update(a) => {
            let config = a
                .config
                .as_deref()
                .map(|c| parse_json_arg("--config", c))
                .transpose()?;
            let update = SourceUpdate {
                name: a.name,
                kind: a.kind,
                config,
            };
            show(&sources::update(&db, a.tenant, a.id, update).await?, a.json)
        }
        SourceCommand::Delete(a) => {
            sources::delete(&db, a.tenant, a.id).await?;
            if a.json {
                return print_json(&serde_json::json!({"deleted": a.id}));
            }
            println!("Deleted source {}", a.id);
            Ok(())
        }
    }
}
