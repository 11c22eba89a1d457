use super::{Ctx, print_json, when};
use crate::service::tenants;
use argh::FromArgs;

/// create a tenant and print its id and first API key (shown once)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "create-tenant")]
pub struct CreateArgs {
    /// the tenant's name, e.g. "My Agency"
    #[argh(positional)]
    name: String,
    /// days to keep snapshots, resolved warnings and runs (default 30)
    #[argh(option)]
    retention_days: Option<i32>,
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

/// list tenants
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "tenants")]
pub struct ListArgs {
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

pub async fn create(args: CreateArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let (tenant, key) = tenants::create(&db, &args.name, args.retention_days).await?;
    if args.json {
        return print_json(&serde_json::json!({"tenant": tenant, "api_key": key.key}));
    }
    outln!("Tenant id: {}", tenant.id);
    outln!("Name: {}", tenant.name);
    outln!("API key: {}", key.key);
    outln!("Save it, it is not shown again.");
    Ok(())
}

pub async fn list(args: ListArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let all = tenants::list(&db).await?;
    if args.json {
        return print_json(&all);
    }
    if all.is_empty() {
        outln!("No tenants yet: create one with `sync-manager create-tenant NAME`.");
    }
    for t in all {
        outln!(
            "{}\t{}\tretention {} days\tcreated {}",
            t.id,
            t.name,
            t.retention_days,
            when(&t.created_at)
        );
    }
    Ok(())
}
