//! A page that could not be shown or a form that was refused (`UiError`), and the error page.
use crate::error::AppError;
use askama::Template;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};

/// A page that could not be shown, or a form that was refused.
#[derive(Debug)]
pub enum UiError {
    App(AppError),
    /// A cross-site form, a wrong CSRF token, a page for someone else.
    Forbidden(String),
    /// A form that makes no sense (a missing field, say).
    BadForm(String),
}

impl From<AppError> for UiError {
    fn from(e: AppError) -> Self {
        UiError::App(e)
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        UiError::App(AppError::Db(sea_orm::DbErr::Custom(format!(
            "a page could not be rendered: {e}"
        ))))
    }
}

impl UiError {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            UiError::App(AppError::NotFound { .. }) => StatusCode::NOT_FOUND,
            UiError::App(AppError::Unauthorized(_)) => StatusCode::UNAUTHORIZED,
            UiError::App(AppError::Conflict(_)) => StatusCode::CONFLICT,
            UiError::App(AppError::Db(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            UiError::App(AppError::StorageFull(_)) => StatusCode::INSUFFICIENT_STORAGE,
            UiError::App(_) | UiError::BadForm(_) => StatusCode::UNPROCESSABLE_ENTITY,
            UiError::Forbidden(_) => StatusCode::FORBIDDEN,
        }
    }

    /// What the person reads.
    pub fn detail(&self) -> String {
        match self {
            UiError::App(AppError::Db(e)) => {
                tracing::error!("dashboard: {e}");
                "the database failed; nothing was changed, try again".into()
            }
            UiError::App(e) => e.to_string(),
            UiError::Forbidden(t) | UiError::BadForm(t) => t.clone(),
        }
    }
}

tokio::task_local! {
    /// The app's base path, for the error page (which is built without the request).
    pub(super) static BASE: String;
}

/// The error page (no navigation: it is shown outside any session too).
#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    detail: String,
    css: String,
    base: String,
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail())
    }
}

impl std::error::Error for UiError {}

impl poem::error::ResponseError for UiError {
    fn status(&self) -> StatusCode {
        UiError::status(self)
    }

    fn as_response(&self) -> Response {
        self.page()
    }
}

impl UiError {
    /// The error page.
    fn page(&self) -> Response {
        let status = self.status();
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            detail: self.detail(),
            css: format!(
                "{}{}",
                BASE.try_with(|b| b.clone()).unwrap_or_default(),
                crate::http::assets::url("app.css")
            ),
            base: BASE.try_with(|b| b.clone()).unwrap_or_default(),
        };
        let body = page
            .render()
            .unwrap_or_else(|_| "the page could not be shown".to_string());
        Response::builder()
            .status(status)
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        self.page()
    }
}
