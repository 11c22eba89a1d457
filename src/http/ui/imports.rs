//! The import form of a source: the uploaded file is checked first (a dry run shows what it
//! would change and which records are invalid), kept in the database, and imported when the
//! person confirms.
use super::view::Layout;
use super::{Posted, UiError, UiResult, Viewed, bad_csrf, csrf_ok, done, refused, render};
use crate::domain::stats::RecordError;
use crate::error::AppError;
use crate::http::AppState;
use crate::ids::SourceId;
use crate::service::imports::{self, ImportInput, ImportMode, ImportOptions};
use crate::service::json_stream::Shape;
use crate::service::{sources, uploads};
use askama::Template;
use poem::handler;
use poem::web::{Data, Multipart, Path};

/// How the file is shaped: one record per line for `.ndjson`/`.jsonl` files or a first line
/// that is a whole record; else an array or `{"data": [...]}`.
fn shape_of(name: &str, content: &[u8]) -> Shape {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
        return Shape::Lines;
    }
    let text = content.trim_ascii_start();
    if text.first() == Some(&b'{') {
        let first_line = text.split(|b| *b == b'\n').next().unwrap_or(text);
        if let Ok(serde_json::Value::Object(map)) =
            serde_json::from_slice::<serde_json::Value>(first_line)
            && !map.contains_key("data")
            && text.len() > first_line.len()
        {
            return Shape::Lines;
        }
    }
    Shape::ArrayOrObject
}

#[derive(Template)]
#[template(path = "pages/import_preview.html")]
struct PreviewPage {
    layout: Layout,
    source_id: i64,
    source_name: String,
    file_name: String,
    upload: i64,
    mode: String,
    strict: bool,
    force: bool,
    /// The dry run's counts, or why it would be refused.
    stats: Option<crate::domain::stats::ImportStats>,
    refusal: Option<String>,
    /// The mass-delete guard refused it: it can be forced.
    can_force: bool,
    errors: Vec<RecordError>,
    more_errors: usize,
}

fn options(mode: &str, strict: bool, force: bool, dry_run: bool) -> ImportOptions {
    ImportOptions {
        mode: if mode == "full" {
            ImportMode::Full
        } else {
            ImportMode::Upsert
        },
        strict,
        dry_run,
        force,
    }
}

async fn dry_run(
    state: &AppState,
    viewed: &Viewed,
    source: SourceId,
    content: Vec<u8>,
    shape: Shape,
    opts: ImportOptions,
) -> Result<Result<imports::ImportOutcome, AppError>, UiError> {
    let tenant = viewed.tenant()?;
    let input = ImportInput::Body(Box::new(std::io::Cursor::new(content)), shape);
    Ok(imports::import_keeping_index(
        &state.db,
        &state.indexes,
        tenant,
        source,
        input,
        opts,
        &viewed.viewer().actor(),
        None,
    )
    .await)
}

#[allow(clippy::too_many_arguments)]
async fn preview_page(
    state: &AppState,
    viewed: &Viewed,
    source: SourceId,
    upload: i64,
    file_name: String,
    content: Vec<u8>,
    mode: String,
    strict: bool,
    force: bool,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let name = sources::get(&state.db, tenant, source).await?.name;
    let shape = shape_of(&file_name, &content);
    let result = dry_run(
        state,
        viewed,
        source,
        content,
        shape,
        options(&mode, strict, force, true),
    )
    .await?;
    let (stats, refusal, can_force, mut errors) = match result {
        Ok(out) => (Some(out.stats), None, false, out.errors),
        Err(AppError::Rejected { errors }) => (
            None,
            Some(format!(
                "{} record(s) are invalid, and “refuse the whole file” is on: nothing would be \
                 imported",
                errors.len()
            )),
            false,
            errors,
        ),
        Err(e @ AppError::Conflict(_)) => (None, Some(e.to_string()), true, Vec::new()),
        Err(e @ (AppError::Malformed(_) | AppError::Invalid { .. })) => {
            uploads::remove(&state.db, upload).await?;
            return Ok(refused(
                viewed,
                &format!("/ui/sources/{}", source.0),
                "import",
                &UiError::App(e),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let more_errors = errors.len().saturating_sub(50);
    errors.truncate(50);
    render(&PreviewPage {
        layout: Layout::new(viewed, format!("Import into {name}: check"), "sources"),
        source_id: source.0,
        source_name: name,
        file_name,
        upload,
        mode,
        strict,
        force,
        stats,
        refusal,
        can_force,
        errors,
        more_errors,
    })
}

/// `POST /ui/sources/:id/import` (multipart: `csrf`, `file`, `mode`, `strict`): keeps the file
/// and shows what importing it would do.
#[handler]
pub async fn preview(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    mut form: Multipart,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let source = SourceId(id);
    sources::get(&state.db, tenant, source).await?;
    let (mut csrf, mut mode, mut strict) = (None, "upsert".to_string(), false);
    let mut file: Option<(String, Vec<u8>)> = None;
    let unreadable =
        |e: poem::Error| UiError::BadForm(format!("the upload could not be read: {e}"));
    while let Some(field) = form.next_field().await.map_err(|e| unreadable(e.into()))? {
        match field.name().unwrap_or("") {
            "csrf" => csrf = Some(field.text().await.map_err(|e| unreadable(e.into()))?),
            "mode" => mode = field.text().await.map_err(|e| unreadable(e.into()))?,
            "strict" => strict = true,
            "file" => {
                let name = field.file_name().unwrap_or("upload.json").to_string();
                let bytes = field.bytes().await.map_err(|e| unreadable(e.into()))?;
                file = Some((name, bytes));
            }
            _ => {}
        }
    }
    if !csrf_ok(&viewed, csrf.as_deref()) {
        return Err(bad_csrf());
    }
    let back = format!("/ui/sources/{id}");
    let Some((file_name, content)) = file.filter(|(_, c)| !c.is_empty()) else {
        let err = UiError::BadForm("choose a file to import (it was empty or missing)".into());
        return Ok(refused(&viewed, &back, "import", &err));
    };
    let upload = uploads::keep(
        &state.db,
        viewed.session.id,
        source,
        &file_name,
        content.clone(),
    )
    .await?;
    preview_page(
        state, &viewed, source, upload, file_name, content, mode, strict, false,
    )
    .await
}

/// `POST /ui/sources/:id/import/confirm` (`upload`, `mode`, `strict`, `force`): imports the
/// file checked before.
#[handler]
pub async fn confirm(
    viewed: Viewed,
    Data(state): Data<&AppState>,
    Path(id): Path<i64>,
    form: Posted,
) -> UiResult {
    let tenant = viewed.tenant()?;
    let source = SourceId(id);
    let upload_id: i64 = form
        .need("upload")?
        .parse()
        .map_err(|_| UiError::BadForm("the form names no upload".into()))?;
    let upload = uploads::get(&state.db, viewed.session.id, source, upload_id).await?;
    let mode = form.get("mode").unwrap_or("upsert").to_string();
    let (strict, force) = (form.checked("strict"), form.checked("force"));
    if form.get("recheck").is_some() {
        // "Check again with force": the same file, the guard lifted.
        return preview_page(
            state,
            &viewed,
            source,
            upload.id,
            upload.file_name,
            upload.content,
            mode,
            strict,
            true,
        )
        .await;
    }
    let shape = shape_of(&upload.file_name, &upload.content);
    let input = ImportInput::Body(Box::new(std::io::Cursor::new(upload.content)), shape);
    let opts = options(&mode, strict, force, false);
    let result = imports::import_keeping_index(
        &state.db,
        &state.indexes,
        tenant,
        source,
        input,
        opts,
        &viewed.viewer().actor(),
        None,
    )
    .await;
    let back = format!("/ui/sources/{id}");
    match result {
        Ok(out) => {
            uploads::remove(&state.db, upload.id).await?;
            let s = out.stats;
            let run = out.run_id.map(|r| r.0).unwrap_or(0);
            Ok(done(
                &viewed,
                &format!("/ui/runs/{run}"),
                format!(
                    "imported {}: {} created, {} updated, {} unchanged, {} deleted, {} restored, \
                     {} rejected.",
                    upload.file_name,
                    s.created,
                    s.updated,
                    s.unchanged,
                    s.deleted,
                    s.restored,
                    s.rejected
                ),
            ))
        }
        Err(e) => Ok(refused(&viewed, &back, "import", &e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_files() {
        assert_eq!(shape_of("a.json", b"[{\"id\": 1}]"), Shape::ArrayOrObject);
        assert_eq!(shape_of("a.json", b"{\"data\": []}"), Shape::ArrayOrObject);
        assert_eq!(
            shape_of("a.json", b"{\"id\": 1}\n{\"id\": 2}\n"),
            Shape::Lines
        );
        assert_eq!(shape_of("a.NDJSON", b"[]"), Shape::Lines);
        assert_eq!(shape_of("a.json", b"{\"id\": 1}"), Shape::ArrayOrObject);
    }
}
