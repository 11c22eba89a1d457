//! A list of a source's or target's records: one page (answered again from memory while the
//! records have not changed) or every record, streamed page by page.
use crate::http::AppState;
use crate::http::list_cache::{CachedPage, ListKey};
use crate::http::paging::{self, JsonArray, ListResponse};
use crate::http::problem::ApiResult;
use crate::ids::TenantId;
use crate::service::properties::{self, ListedProperty, Owner, PropertyFilter};
use poem_openapi::types::{ParseFromJSON, ToJSON};

/// A request for a page of a source's or target's records.
pub(super) struct Page {
    pub owner: Owner,
    pub path: String,
    /// The query parameters to repeat in the `Link` header (besides `limit` and `cursor`).
    pub query: Vec<(String, String)>,
    pub filter: PropertyFilter,
}

impl Page {
    /// Without a limit, every record, streamed. With one, a page: answered from the pages
    /// served before while the owner's records have not changed (one indexed read), else read,
    /// written and kept.
    pub async fn answer<D>(
        self,
        state: &AppState,
        tenant: TenantId,
        limit: Option<u64>,
        write_item: fn(&mut Vec<u8>, &ListedProperty),
    ) -> ApiResult<ListResponse<D>>
    where
        D: ToJSON + ParseFromJSON + Send + Sync,
    {
        let at = properties::list_state(&state.db, tenant, self.owner).await?;
        let Some(limit) = limit else {
            return self.stream(state, at, write_item).await;
        };
        let mut f = self.filter;
        f.limit = limit;
        let key = ListKey {
            owner: self.owner,
            query: format!(
                "{:?}",
                (
                    &self.query,
                    &f.after,
                    f.limit,
                    f.has_manual_changes,
                    f.changed_since,
                    f.include_deleted
                )
            ),
        };
        let kept = state.lists.get(&key, at);
        if let (Some(page), false) = (&kept, cfg!(debug_assertions)) {
            return Ok(ListResponse::Ok(
                JsonArray::from_bytes(page.body.clone()),
                page.total,
                page.link.clone(),
            ));
        }
        let (items, total) = properties::page_at(&state.db, self.owner, at, &f).await?;
        let response = paging::respond_with(
            items,
            total,
            &self.path,
            &self.query,
            Some(limit),
            |p| p.external_id.clone(),
            |out, p| write_item(out, &p),
        );
        let ListResponse::Ok(body, total, link) = &response;
        let body = body.bytes().unwrap_or_default();
        // Debug builds (the tests) check every page they would have served from the cache.
        if let Some(page) = kept {
            debug_assert_eq!(
                (&page.body, page.total, &page.link),
                (&body, *total, link),
                "a kept page differs from the records"
            );
        }
        let page = CachedPage {
            total: *total,
            link: link.clone(),
            body,
        };
        state.lists.put(key, at, page);
        Ok(response)
    }

    /// Every matching record, read [`paging::STREAM_PAGE`] at a time while the body goes out.
    async fn stream<D>(
        self,
        state: &AppState,
        at: properties::ListState,
        write_item: fn(&mut Vec<u8>, &ListedProperty),
    ) -> ApiResult<ListResponse<D>>
    where
        D: ToJSON + ParseFromJSON + Send + Sync,
    {
        let total = properties::total_at(&state.db, self.owner, at, &self.filter).await?;
        let (db, owner, filter) = (state.db.clone(), self.owner, self.filter);
        let next_page: paging::NextPage<ListedProperty> = Box::new(move |after| {
            let db = db.clone();
            let mut filter = filter.clone();
            filter.after = after;
            filter.limit = paging::STREAM_PAGE;
            Box::pin(async move { properties::rows(&db, owner, &filter).await })
        });
        Ok(paging::stream(
            total,
            next_page,
            |p| p.external_id.clone(),
            move |out, p| write_item(out, &p),
        ))
    }
}
