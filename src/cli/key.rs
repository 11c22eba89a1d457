use super::{Ctx, print_json, when};
use crate::ids::{KeyId, TenantId};
use crate::service::keys;
use argh::FromArgs;

/// manage a tenant's API keys
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "key")]
pub struct Args {
    #[argh(subcommand)]
    command: KeyCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum KeyCommand {
    Create(Create),
    List(List),
    Revoke(Revoke),
    Rotate(Rotate),
}

/// create another API key for a tenant (shown once)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "create")]
struct Create {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// a label for the key (default "cli")
    #[argh(option, default = "String::from(\"cli\")")]
    name: String,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// list a tenant's API keys (prefixes only)
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

/// revoke one API key
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "revoke")]
struct Revoke {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// the key's id (`sync-manager key list TENANT` lists them)
    #[argh(positional)]
    key_id: KeyId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// create a new API key and revoke all the tenant's other keys
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "rotate")]
struct Rotate {
    /// the tenant's id (`sync-manager tenants` lists them)
    #[argh(positional)]
    tenant: TenantId,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

fn print_new(key: &keys::NewKey, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&serde_json::json!({"key": key.model, "api_key": key.key}));
    }
    outln!("Key id: {} (prefix {})", key.model.id, key.model.prefix);
    outln!("API key: {}", key.key);
    outln!("Save it, it is not shown again.");
    Ok(())
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        KeyCommand::Create(a) => print_new(&keys::create(&db, a.tenant, &a.name).await?, a.json),
        KeyCommand::Rotate(a) => print_new(&keys::rotate(&db, a.tenant, "rotated").await?, a.json),
        KeyCommand::List(a) => {
            let all = keys::list(&db, a.tenant).await?;
            if a.json {
                return print_json(&all);
            }
            for k in all {
                let state = match k.revoked_at {
                    Some(t) => format!("revoked {}", when(&t)),
                    None => "active".into(),
                };
                outln!("{}\t{}…\t{}\t{}", k.id, k.prefix, k.name, state);
            }
            Ok(())
        }
        KeyCommand::Revoke(a) => {
            let key = keys::revoke(&db, a.tenant, a.key_id).await?;
            if a.json {
                return print_json(&key);
            }
            outln!("Revoked key {} ({}…)", key.id, key.prefix);
            Ok(())
        }
    }
}
