//! Lists: without `?limit=` every matching item, as one top-level JSON array streamed from the
//! database page by page (bounded memory whatever the count); with `?limit=` (at most 1000)
//! one page and an opaque `?cursor=` for the next, announced with `Link: <…>; rel="next"`.
//! `X-Total-Count` on both.
use crate::error::AppResult;
use crate::http::problem::{ApiError, bad_request};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Json;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, ToJSON, Type};
use std::marker::PhantomData;

pub const MAX_LIMIT: u64 = 1000;
/// Items read from the database at once when a whole list is streamed.
pub const STREAM_PAGE: u64 = 1000;

/// A page of a list: a top-level JSON array.
#[derive(ApiResponse)]
pub enum ListResponse<T: ToJSON + ParseFromJSON + Send + Sync> {
    /// The page, as a top-level JSON array.
    #[oai(status = 200)]
    Ok(
        JsonArray<T>,
        /// How many items match, over all pages.
        #[oai(header = "X-Total-Count")]
        u64,
        /// `<url>; rel="next"` when there is a next page.
        #[oai(header = "Link")]
        Option<String>,
    ),
}

/// A top-level JSON array of `T` (documented in the OpenAPI document exactly as
/// `Json<Vec<T>>`): written once into memory (a page), or streamed (a whole list).
/// `respond` writes items from their `ToJSON` value; `respond_with` writes them as the caller
/// says (the property lists, whose records' stored JSON goes out without being parsed into a
/// tree and serialised again).
pub struct JsonArray<T> {
    body: Body,
    of: PhantomData<fn() -> T>,
}

enum Body {
    Bytes(Bytes),
    Stream(futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>),
}

impl<T> JsonArray<T> {
    /// `[`, each item as `write_item` writes it, `,` between them, `]`.
    pub fn write<I>(
        items: impl IntoIterator<Item = I>,
        mut write_item: impl FnMut(&mut Vec<u8>, I),
    ) -> Self {
        let mut body = Vec::with_capacity(4096);
        body.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            write_item(&mut body, item);
        }
        body.push(b']');
        Self::from_bytes(body.into())
    }

    /// A body written before.
    pub fn from_bytes(body: Bytes) -> Self {
        JsonArray {
            body: Body::Bytes(body),
            of: PhantomData,
        }
    }

    /// The body, if it was written into memory (a page, not a stream).
    pub fn bytes(&self) -> Option<Bytes> {
        match &self.body {
            Body::Bytes(b) => Some(b.clone()),
            Body::Stream(_) => None,
        }
    }
}

/// Reads the page of items after a cursor (`None`: the first page), at most [`STREAM_PAGE`].
pub type NextPage<M> =
    Box<dyn FnMut(Option<String>) -> BoxFuture<'static, AppResult<Vec<M>>> + Send>;

/// Writes one item of a streamed list.
type WriteItem<M> = Box<dyn FnMut(&mut Vec<u8>, M) + Send>;

/// What a streamed list needs between two pages.
struct Streamed<M> {
    next_page: NextPage<M>,
    cursor_of: Box<dyn Fn(&M) -> String + Send>,
    write_item: WriteItem<M>,
    after: Option<String>,
    started: bool,
    done: bool,
}

/// Every item, as one array read from the database [`STREAM_PAGE`] items at a time and
/// written out page by page; `total` goes into `X-Total-Count`. A database failure in the
/// middle ends the body early (the status was sent), which the client sees as cut-off JSON.
pub fn stream<M, D>(
    total: u64,
    next_page: NextPage<M>,
    cursor_of: impl Fn(&M) -> String + Send + 'static,
    write_item: impl FnMut(&mut Vec<u8>, M) + Send + 'static,
) -> ListResponse<D>
where
    M: Send + 'static,
    D: ToJSON + ParseFromJSON + Send + Sync,
{
    let state = Streamed {
        next_page,
        cursor_of: Box::new(cursor_of),
        write_item: Box::new(write_item),
        after: None,
        started: false,
        done: false,
    };
    let chunks = futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        let rows = match (st.next_page)(st.after.take()).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("a streamed list stopped: {e}");
                st.done = true;
                return Some((Err(std::io::Error::other(e.to_string())), st));
            }
        };
        let mut out = Vec::with_capacity(64 * 1024);
        if !st.started {
            out.push(b'[');
        }
        let full = rows.len() as u64 >= STREAM_PAGE;
        st.after = rows.last().map(|m| (st.cursor_of)(m));
        for (i, row) in rows.into_iter().enumerate() {
            if st.started || i > 0 {
                out.push(b',');
            }
            (st.write_item)(&mut out, row);
        }
        st.started = true;
        if !full || st.after.is_none() {
            out.push(b']');
            st.done = true;
        }
        Some((Ok(Bytes::from(out)), st))
    });
    let body = JsonArray {
        body: Body::Stream(Box::pin(chunks)),
        of: PhantomData,
    };
    ListResponse::Ok(body, total, None)
}

/// Appends `value` as JSON. Writing a `Serialize` value without non-string map keys into
/// memory cannot fail; should it ever, the item is written as `null` and the failure logged.
pub fn write_json(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    let start = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, value) {
        tracing::error!("could not write a list item as JSON: {e}");
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

impl<T: Type> Payload for JsonArray<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <Json<Vec<T>> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        <Vec<T> as Type>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <Vec<T> as Type>::register(registry);
    }
}

impl<T: Send> IntoResponse for JsonArray<T> {
    fn into_response(self) -> Response {
        let builder = Response::builder().content_type(<Json<String> as Payload>::CONTENT_TYPE);
        match self.body {
            Body::Bytes(bytes) => builder.body(bytes),
            Body::Stream(chunks) => builder.body(poem::Body::from_bytes_stream(chunks)),
        }
    }
}

/// Checks `limit`: `None` (no `?limit=`) asks for every item.
pub fn limit(limit: Option<u64>) -> Result<Option<u64>, ApiError> {
    match limit {
        None => Ok(None),
        Some(0) => Err(bad_request("limit must be at least 1")),
        Some(n) if n > MAX_LIMIT => Err(bad_request(format!(
            "limit must be at most {MAX_LIMIT}, got {n}; follow the Link header for more, or \
             leave limit out to get every item in one response"
        ))),
        Some(n) => Ok(Some(n)),
    }
}

/// Reads a cursor that is an id: 1 to 18 digits, no leading zero (the document's pattern).
pub fn id_cursor<T: std::str::FromStr>(cursor: Option<String>) -> Result<Option<T>, ApiError> {
    cursor
        .map(|c| {
            let digits = (1..=18).contains(&c.len())
                && c.bytes().all(|b| b.is_ascii_digit())
                && !c.starts_with('0');
            digits
                .then(|| c.parse::<T>().ok())
                .flatten()
                .ok_or_else(|| bad_request("cursor must be the value from the Link header"))
        })
        .transpose()
}

/// Reads a cursor that is a record's external id (what the `Link` header carries): any text
/// is a position in their order, except with a NUL character, which no id can hold.
pub fn text_cursor(cursor: Option<String>) -> Result<Option<String>, ApiError> {
    match cursor {
        Some(c) if c.contains('\0') => Err(bad_request(
            "cursor must be the value from the Link header (an external id, which has no NUL \
             character)",
        )),
        other => Ok(other),
    }
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds a page: converts the items, adds `X-Total-Count` and, after a full page, the
/// `Link` to the next one (whose cursor `cursor_of` reads from the last item). `limit: None`:
/// the items are all there are (no `Link`).
pub fn respond<M, D>(
    items: Vec<M>,
    total: u64,
    path: &str,
    query: &[(String, String)],
    limit: Option<u64>,
    cursor_of: impl Fn(&M) -> String,
) -> ListResponse<D>
where
    D: From<M> + ToJSON + ParseFromJSON + Send + Sync,
{
    respond_with(
        items,
        total,
        path,
        query,
        limit,
        cursor_of,
        write_item::<D, M>,
    )
}

/// Writes `m` as its DTO `D` (what `respond` does per item).
pub fn write_item<D: From<M> + ToJSON, M>(out: &mut Vec<u8>, m: M) {
    write_json(
        out,
        &D::from(m).to_json().unwrap_or(serde_json::Value::Null),
    )
}

/// `respond`, with each item written by `write_item` (see `JsonArray::write`).
pub fn respond_with<M, D>(
    items: Vec<M>,
    total: u64,
    path: &str,
    query: &[(String, String)],
    limit: Option<u64>,
    cursor_of: impl Fn(&M) -> String,
    write_item: impl FnMut(&mut Vec<u8>, M),
) -> ListResponse<D>
where
    D: ToJSON + ParseFromJSON + Send + Sync,
{
    let link = limit
        .and_then(|limit| next_link(path, query, limit, items.len(), items.last().map(cursor_of)));
    ListResponse::Ok(JsonArray::write(items, write_item), total, link)
}

/// Pages a short list held in memory (sources, keys, the history of one record), ordered by
/// id (`newest_first`: descending); the cursor is the last id of the previous page. Without
/// `limit`, all of it.
pub fn page_in_memory<M, D>(
    all: Vec<M>,
    id_of: impl Fn(&M) -> i64,
    newest_first: bool,
    path: &str,
    limit: Option<u64>,
    cursor: Option<String>,
) -> Result<ListResponse<D>, ApiError>
where
    D: From<M> + ToJSON + ParseFromJSON + Send + Sync,
{
    let limit = self::limit(limit)?;
    let cursor = id_cursor::<i64>(cursor)?;
    let total = all.len() as u64;
    let items: Vec<M> = all
        .into_iter()
        .filter(|m| match cursor {
            None => true,
            Some(c) if newest_first => id_of(m) < c,
            Some(c) => id_of(m) > c,
        })
        .take(limit.map_or(usize::MAX, |l| l as usize))
        .collect();
    Ok(respond(items, total, path, &[], limit, |m| {
        id_of(m).to_string()
    }))
}

/// The `Link` header for the next page, if a full page was returned. `query` holds the other
/// query parameters to keep (already encoded, without `limit` and `cursor`).
pub fn next_link(
    path: &str,
    query: &[(String, String)],
    limit: u64,
    returned: usize,
    cursor: Option<String>,
) -> Option<String> {
    let cursor = cursor.filter(|_| returned as u64 == limit)?;
    let mut url = format!("{path}?limit={limit}");
    for (k, v) in query {
        url.push_str(&format!("&{k}={}", encode(v)));
    }
    url.push_str(&format!("&cursor={}", encode(&cursor)));
    Some(format!("<{url}>; rel=\"next\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(limit(None).unwrap(), None);
        assert_eq!(limit(Some(1000)).unwrap(), Some(1000));
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(1001)).is_err());
    }

    #[test]
    fn next_links() {
        assert_eq!(next_link("/x", &[], 2, 1, Some("a".into())), None);
        assert_eq!(
            next_link(
                "/x",
                &[("status".into(), "open".into())],
                2,
                2,
                Some("P 1/é".into())
            ),
            Some("</x?limit=2&status=open&cursor=P%201%2F%C3%A9>; rel=\"next\"".into())
        );
    }
}
