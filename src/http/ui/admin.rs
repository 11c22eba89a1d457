//! The admin's pages: the tenants with their counts, creating one (its key shown once), and a
//! tenant's keys with creating and revoking them.
use super::view::{Layout, When};
use super::{Posted, UiError, UiResult, Viewed, cookie, done, refused, render};
use crate::http::AppState;
use crate::ids::{KeyId, TenantId};
use crate::service::{dashboard, keys, tenants};
use askama::Template;
use poem::http::{HeaderValue, header};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

/// A new key, shown on the next page only (a short-lived cookie; never in a URL).
const SECRET_COOKIE: &str = "sm_new_key";

fn admin_only(viewed: &Viewed) -> Result<(), UiError> {
    if viewed.is_admin() {
        Ok(())
    } else {
        Err(UiError::Forbidden(
            "this page is the admin's: log in with the admin key".into(),
        ))
    }
}

/// The cookie that carries a new key to the page that shows it, and one that clears it.
fn with_secret(mut resp: Response, base: &str, key: &str) -> Response {
    let c = format!(
        "{SECRET_COOKIE}={key}; Path={base}/ui/admin; Max-Age=120; HttpOnly; SameSite=Strict"
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn clear_secret(mut resp: Response, base: &str) -> Response {
    let c = format!("{SECRET_COOKIE}=; Path={base}/ui/admin; Max-Age=0; HttpOnly; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The new key of the page before, if any (keys are `sm_` and 48 hex digits).
fn new_key(req: &Request) -> Option<String> {
    cookie(req, SECRET_COOKIE)
        .filter(|k| k.starts_with("sm_") && k.len() < 80)
        .map(str::to_string)
}

pub struct TenantRow {
    pub id: i64,
    pub name: String,
    pub sources: u64,
    pub targets: u64,
    pub records: u64,
    pub open_warnings: u64,
    pub last_run: Option<When>,
}

#[derive(Template)]
#[template(path = "pages/admin.html")]
struct TenantsPage {
    layout: Layout,
    rows: Vec<TenantRow>,
    new_key: Option<String>,
}

/// `GET /ui/admin`
#[handler]
pub async fn tenants_page(req: &Request, viewed: Viewed, Data(state): Data<&AppState>) -> UiResult {
    admin_only(&viewed)?;
    let rows = dashboard::tenants(&state.db)
        .await?
        .into_iter()
        .map(|t| TenantRow {
            id: t.tenant.id,
            name: t.tenant.name,
            sources: t.sources,
            targets: t.targets,
            records: t.records,
            open_warnings: t.open_warnings,
            last_run: t.last_run.map(|r| When::of(&r.started_at)),
        })
        .collect();
    let key = new_key(req);
    let page = render(&TenantsPage {
        layout: Layout::new(&viewed, "Tenants", "admin"),
        rows,
        new_key: key.clone(),
    })?;
    Ok(if key.is_some() {
        clear_secret(page, &viewed.base)
    } else {
        page
    })
}

/// `POST /ui/admin/tenants` (`name`)
#[handler]
pub async fn create_tenant(viewed: Viewed, Data(state): Data<&AppState>, form: Posted) -> UiResult {
    admin_only(&viewed)?;
    let name = form.get("name").unwrap_or("");
    match tenants::create(&state.db, name, None).await {
        Ok((tenant, key)) => Ok(with_secret(
            done(
                &viewed,
                "/ui/admin",
                format!(
                    "tenant {} ({}) was created; its key is below, shown once.",
                    tenant.id, tenant.name
                ),
            ),
            &viewed.base,
            &key.key,
        )),
        Err(e) => Ok(refused(&viewed, "/ui/admin", "create", &e.into())),
    }
}

pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created: When,
    pub last_used: Option<When>,
    pub revoked: Option<When>,
}

#[derive(Template)]
#[template(path = "pages/admin_tenant.html")]
struct TenantPage {
    layout: Layout,
    id: i64,
    name: String,
    keys: Vec<KeyRow>,
    new_key: Option<String>,
}

/// `GET /ui/admin/tenants/:id`
#[handler]
pub async fn tenant_page(
    req: &Request,
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
) -> UiResult {
    admin_only(&viewed)?;
    let tenant = tenants::get(&state.db, TenantId(id)).await?;
    let keys = keys::list(&state.db, TenantId(id))
        .await?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created: When::of(&k.created_at),
            last_used: When::maybe(&k.last_used_at),
            revoked: When::maybe(&k.revoked_at),
        })
        .collect();
    let key = new_key(req);
    let page = render(&TenantPage {
        layout: Layout::new(&viewed, format!("Tenant {}", tenant.name), "admin"),
        id,
        name: tenant.name,
        keys,
        new_key: key.clone(),
    })?;
    Ok(if key.is_some() {
        clear_secret(page, &viewed.base)
    } else {
        page
    })
}

/// `POST /ui/admin/tenants/:id/keys` (`name`)
#[handler]
pub async fn create_key(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    form: Posted,
) -> UiResult {
    admin_only(&viewed)?;
    let back = format!("/ui/admin/tenants/{id}");
    let name = form.get("name").unwrap_or("dashboard");
    match keys::create(&state.db, TenantId(id), name).await {
        Ok(key) => Ok(with_secret(
            done(
                &viewed,
                &back,
                format!(
                    "key {} was created; it is below, shown once.",
                    key.model.prefix
                ),
            ),
            &viewed.base,
            &key.key,
        )),
        Err(e) => Ok(refused(&viewed, &back, "keys", &e.into())),
    }
}

#[derive(Template)]
#[template(path = "pages/revoke_confirm.html")]
struct RevokePage {
    layout: Layout,
    tenant_id: i64,
    tenant_name: String,
    key: KeyRow,
}

/// `GET /ui/admin/tenants/:id/keys/:key/revoke`
#[handler]
pub async fn revoke_confirm(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path((id, key)): Path<(i64, i64)>,
) -> UiResult {
    admin_only(&viewed)?;
    let tenant = tenants::get(&state.db, TenantId(id)).await?;
    let k = keys::list(&state.db, TenantId(id))
        .await?
        .into_iter()
        .find(|k| k.id == key)
        .ok_or_else(|| crate::AppError::not_found("api key", key))?;
    render(&RevokePage {
        layout: Layout::new(&viewed, "Revoke a key?", "admin"),
        tenant_id: id,
        tenant_name: tenant.name,
        key: KeyRow {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created: When::of(&k.created_at),
            last_used: When::maybe(&k.last_used_at),
            revoked: When::maybe(&k.revoked_at),
        },
    })
}

/// `POST /ui/admin/tenants/:id/keys/:key/revoke`: the key stops working at once (its
/// dashboard sessions too).
#[handler]
pub async fn revoke(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path((id, key)): Path<(i64, i64)>,
    _form: Posted,
) -> UiResult {
    admin_only(&viewed)?;
    let back = format!("/ui/admin/tenants/{id}");
    match keys::revoke(&state.db, TenantId(id), KeyId(key)).await {
        Ok(k) => Ok(done(
            &viewed,
            &back,
            format!("key {} was revoked; it no longer works.", k.prefix),
        )),
        Err(e) => Ok(refused(&viewed, &back, "keys", &e.into())),
    }
}
