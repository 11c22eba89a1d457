//! The dashboard's stylesheet, script and icon, embedded in the binary (`static/`), served at
//! `/ui/static/HASH/NAME`: the content hash in the URL lets browsers keep them for a year
//! (`immutable`); a quoted ETag answers revalidations with 304.
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Path;
use poem::{IntoResponse, Request, Response, handler};
use rust_embed::RustEmbed;
use std::sync::LazyLock;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

/// The first 16 hex digits of an asset's sha256, for its URL and ETag.
fn hash_of(name: &str) -> Option<String> {
    Static::get(name).map(|f| hex::encode(&f.metadata.sha256_hash()[..8]))
}

/// The URL path (below the app's base path) of an embedded asset.
pub fn url(name: &str) -> String {
    static HASHES: LazyLock<std::collections::HashMap<String, String>> = LazyLock::new(|| {
        Static::iter()
            .filter_map(|name| hash_of(&name).map(|h| (name.to_string(), h)))
            .collect()
    });
    match HASHES.get(name) {
        Some(hash) => format!("/ui/static/{hash}/{name}"),
        None => format!("/ui/static/missing/{name}"),
    }
}

/// `GET /ui/static/:hash/*name`
#[handler]
pub fn serve(req: &Request, Path((hash, name)): Path<(String, String)>) -> Response {
    if name.split('/').any(|part| part == ".." || part.is_empty()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(file) = Static::get(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let current = hex::encode(&file.metadata.sha256_hash()[..8]);
    let etag = format!("\"{current}\"");
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    // An old page asking for an older version gets the current one, not to be kept long.
    let cache = if hash == current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::builder()
            .content_type(file.metadata.mimetype())
            .body(file.data.into_owned())
    };
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}
