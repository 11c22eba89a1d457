use super::{Ctx, print_json};
use crate::service::keys;
use argh::FromArgs;

/// create or migrate the database (safe to run again); the first time, print the admin key
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "init")]
pub struct Args {
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    let admin = keys::ensure_admin_key(&db).await?;
    if args.json {
        return print_json(&serde_json::json!({
            "database": ctx.database_url.to_string(),
            "admin_key": admin.as_ref().map(|k| k.key.clone()),
        }));
    }
    outln!("Database ready: {}", ctx.database_url);
    match admin {
        Some(key) => {
            outln!("Admin key: {}", key.key);
            outln!("Save it now: it is not shown again.");
        }
        None => outln!("An admin key already exists (not shown again)."),
    }
    Ok(())
}
