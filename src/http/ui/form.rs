//! Posted forms: their fields, and the CSRF token every form carries.
use super::{UiError, Viewed};
use crate::service::sessions;
use poem::http::StatusCode;
use poem::{FromRequest, IntoResponse, Request, RequestBody};

/// A posted form (`application/x-www-form-urlencoded`): its fields in order, repeated names
/// kept (checkboxes), after its CSRF token was checked against the session's.
pub struct Posted {
    pub fields: Vec<(String, String)>,
}

impl Posted {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field that must be there.
    pub fn need(&self, name: &str) -> Result<&str, UiError> {
        self.get(name)
            .ok_or_else(|| UiError::BadForm(format!("the form has no field {name:?}")))
    }

    pub fn all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.fields
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v == "on" || v == "true" || v == "1")
    }
}

/// Parses a form body.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Whether `given` is the session's CSRF token.
pub fn csrf_ok(viewed: &Viewed, given: Option<&str>) -> bool {
    given.is_some_and(|g| sessions::same_secret(g, &viewed.csrf))
}

pub fn bad_csrf() -> UiError {
    UiError::Forbidden(
        "the form's security token is missing or out of date (the page was open too long, or \
         you logged in again since): reload the page and send the form again"
            .into(),
    )
}

impl<'a> FromRequest<'a> for Posted {
    async fn from_request(req: &'a Request, body: &mut RequestBody) -> poem::Result<Self> {
        let viewed = Viewed::from_request(req, body).await?;
        let bytes = body
            .take()?
            .into_bytes()
            .await
            .map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::BAD_REQUEST))?;
        let fields = parse_form(&bytes);
        let posted = Posted { fields };
        if !csrf_ok(&viewed, posted.get("csrf")) {
            return Err(poem::Error::from_response(bad_csrf().into_response()));
        }
        Ok(posted)
    }
}
