use super::{Ctx, parse_json_arg, print_json};
use crate::ids::{TargetId, TenantId};
use crate::service::targets::{self, NewTarget, TargetUpdate};
use argh::FromArgs;

/// manage targets (where records go)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "target")]
pub struct Args {
    #[argh(subcommand)]
    command: TargetCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum TargetCommand {
    Create(Create),
    List(List),
    Show(Show),
    Update(Update),
    Delete(Delete),
}

/// create a target
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "create")]
struct Create {
    #[argh(positional)]
    tenant: TenantId,
    #[argh(positional)]
    name: String,
    /// website, database, api, webhook or file (default website)
    #[argh(option, long = "type", default = "String::from(\"website\")")]
    kind: String,
    /// config JSON object, e.g. '{"conflict_policy": "merge", "delete_policy": "mark"}'
    #[argh(option)]
    config: Option<String>,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// list a tenant's targets
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "list")]
struct List {
    #[argh(positional)]
    tenant: TenantId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// show one target
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "show")]
struct Show {
    #[argh(positional)]
    tenant: TenantId,
    #[argh(positional)]
    id: TargetId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// change a target's name, type or config
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "update")]
struct Update {
    #[argh(positional)]
    tenant: TenantId,
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

/// delete a target and its properties
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "delete")]
struct Delete {
    #[argh(positional)]
    tenant: TenantId,
    #[argh(positional)]
    id: TargetId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

fn show(s: &crate::entity::targets::Model, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(s);
    }
    println!("{}\t{}\t{}\t{}", s.id, s.name, s.kind, s.config);
    Ok(())
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        TargetCommand::Create(a) => {
            let config = a
                .config
                .as_deref()
                .map(|c| parse_json_arg("--config", c))
                .transpose()?;
            let s = targets::create(
                &db,
                a.tenant,
                NewTarget {
                    name: a.name,
                    kind: a.kind,
                    config,
                },
            )
            .await?;
            if !a.json {
                println!("Target id: {}", s.id);
            }
            show(&s, a.json)
        }
        TargetCommand::List(a) => {
            let all = targets::list(&db, a.tenant).await?;
            if a.json {
                return print_json(&all);
            }
            all.iter().try_for_each(|s| show(s, false))
        }
        TargetCommand::Show(a) => show(&targets::get(&db, a.tenant, a.id).await?, a.json),
        TargetCommand::Update(a) => {
            let config = a
                .config
                .as_deref()
                .map(|c| parse_json_arg("--config", c))
                .transpose()?;
            let update = TargetUpdate {
                name: a.name,
                kind: a.kind,
                config,
            };
            show(&targets::update(&db, a.tenant, a.id, update).await?, a.json)
        }
        TargetCommand::Delete(a) => {
            targets::delete(&db, a.tenant, a.id).await?;
            if a.json {
                return print_json(&serde_json::json!({"deleted": a.id}));
            }
            println!("Deleted target {}", a.id);
            Ok(())
        }
    }
}
