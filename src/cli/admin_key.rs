use super::{Ctx, print_json};
use crate::service::keys;
use argh::FromArgs;

/// manage the admin key (the key of the dashboard's admin view and of /admin/tenants)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "admin-key")]
pub struct Args {
    #[argh(subcommand)]
    command: AdminKeyCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum AdminKeyCommand {
    Rotate(Rotate),
}

/// make a new admin key and print it once; the old one stops working at once (the way back in
/// when the admin key is lost: run it where the server's database is)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "rotate")]
struct Rotate {
    /// print JSON for scripts
    #[argh(switch)]
    json: bool,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let db = ctx.db().await?;
    match args.command {
        AdminKeyCommand::Rotate(a) => {
            let key = keys::rotate_admin(&db).await?;
            if a.json {
                return print_json(&serde_json::json!({"admin_key": key.key}));
            }
            outln!("Admin key: {}", key.key);
            outln!(
                "Save it now: it is not shown again. The old admin key no longer works ({}).",
                ctx.database_url.describe()
            );
            Ok(())
        }
    }
}
