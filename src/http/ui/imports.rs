//! The import form of a source: the uploaded file is checked first (a dry run shows what it
//! would change and which records are invalid), kept in the database, and imported when the
//! person confirms.
use super::view::{Layout, and_list, num};
use super::{Posted, UiError, UiResult, Viewed, bad_csrf, csrf_ok, done_then, refused, render};
use crate::domain::stats::RecordError;
use crate::error::AppError;
use crate::http::AppState;
use crate::ids::SourceId;
use crate::ingest::format::shape_of_name;
use crate::ingest::json_stream::Shape;
use crate::service::imports::{self, ImportInput, ImportMode, ImportOptions};
use crate::service::{sources, targets, uploads};
use askama::Template;
use poem::handler;
use poem::web::{Data, Multipart, Path};

/// How the file is shaped, as far as its name says (see `input_format`): one record per line
/// for `.ndjson`/`.jsonl`, else decided by its content when it is read; a CSV file is refused.
fn shape_of(name: &str) -> Result<Shape, AppError> {
    match shape_of_name(name) {
        Ok(shape) => Ok(shape.unwrap_or(Shape::ArrayOrObject)),
        Err(e) => Err(AppError::Malformed(e.to_string())),
    }
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
    /// The records it would change, record by record (the first of them).
    changes: Vec<ChangeRow>,
    /// Changed records not listed.
    more_changes: u64,
}

/// One record the import would change, for the preview's table.
pub struct ChangeRow {
    pub external_id: String,
    pub title: String,
    /// What happens, in words.
    pub what: &'static str,
    /// The badge's class.
    pub action: &'static str,
    pub fields: String,
}

impl ChangeRow {
    fn of(p: crate::service::import_preview::PreviewedRecord) -> Self {
        ChangeRow {
            what: match p.action {
                "created" => "new",
                "updated" => "changed",
                "restored" => "brought back",
                _ => "deleted",
            },
            action: p.action,
            title: p.title.unwrap_or_default(),
            fields: and_list(&p.fields),
            external_id: p.external_id,
        }
    }
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
    let result = match shape_of(&file_name) {
        Ok(shape) => {
            let opts = options(&mode, strict, force, true);
            dry_run(state, viewed, source, content, shape, opts).await?
        }
        Err(e) => Err(e),
    };
    let mut planned = Vec::new();
    let (stats, refusal, can_force, mut errors) = match result {
        Ok(out) => {
            planned = out.preview;
            (Some(out.stats), None, false, out.errors)
        }
        Err(AppError::Rejected { errors }) => (
            None,
            Some(format!(
                "{} invalid, and “refuse the whole file” is on: nothing would be imported",
                if errors.len() == 1 {
                    "1 record is".to_string()
                } else {
                    format!("{} records are", num(errors.len() as u64))
                }
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
    let changing = stats.map_or(0, |s| s.created + s.updated + s.restored + s.deleted);
    let more_changes = changing.saturating_sub(planned.len() as u64);
    let changes = planned.into_iter().map(ChangeRow::of).collect();
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
        changes,
        more_changes,
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
    let shape = shape_of(&upload.file_name)?;
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
            // What comes next: syncing it to the website.
            let targets = targets::list(&state.db, tenant).await?;
            let next = match targets.as_slice() {
                [] => None,
                [one] => Some((
                    format!("/ui/targets/{}?source={id}#sync", one.id),
                    format!("now sync it to {}", one.name),
                )),
                many => Some((
                    "/ui/targets".to_string(),
                    format!("now sync it to one of your {} targets", many.len()),
                )),
            };
            Ok(done_then(
                &viewed,
                &format!("/ui/runs/{run}"),
                format!(
                    "imported {}: {} created, {} updated, {} unchanged, {} deleted, {} restored, \
                     {} rejected.",
                    upload.file_name,
                    num(s.created),
                    num(s.updated),
                    num(s.unchanged),
                    num(s.deleted),
                    num(s.restored),
                    num(s.rejected)
                ),
                next,
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
        assert_eq!(shape_of("a.json").unwrap(), Shape::ArrayOrObject);
        assert_eq!(shape_of("a.NDJSON").unwrap(), Shape::Lines);
        assert!(
            shape_of("a.csv")
                .unwrap_err()
                .to_string()
                .contains("looks like CSV")
        );
    }
}
