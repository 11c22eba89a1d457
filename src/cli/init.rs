use super::{Ctx, print_json};
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
    let admin = super::admin_key(&db).await?;
    if args.json {
        let key = match &admin {
            super::AdminKey::Generated(k) => Some(k.clone()),
            _ => None,
        };
        return print_json(&serde_json::json!({
            "database": ctx.database_url.to_string(),
            "admin_key": key,
        }));
    }
    outln!("Database ready: {}", ctx.database_url.describe());
    match admin {
        super::AdminKey::Generated(key) => {
            outln!("Admin key: {key}");
            outln!("Save it now: it is not shown again.");
        }
        super::AdminKey::FromEnv => outln!("Admin key: the one of SYNC_MANAGER_ADMIN_KEY."),
        super::AdminKey::Existing => outln!("An admin key already exists (not shown again)."),
    }
    Ok(())
}
