//! Recently served property list pages, kept until the source's or target's version (kept by
//! the database's triggers, so writes by any process count) moves. A hit costs one indexed read
//! instead of reading and writing the page again.
use crate::service::properties::{ListState, Owner};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many bytes of pages are kept; past it, the cache starts over.
const MAX_BYTES: usize = 64 << 20;

/// One list request: whose list and the query that shapes the page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListKey {
    pub owner: Owner,
    /// The query parameters that select the page (filters, cursor, limit).
    pub query: String,
}

/// A page as it was answered.
#[derive(Debug, Clone)]
pub struct CachedPage {
    pub total: u64,
    pub link: Option<String>,
    pub body: Bytes,
}

#[derive(Default)]
pub struct ListCache {
    pages: Mutex<Pages>,
}

#[derive(Default)]
struct Pages {
    by_key: HashMap<ListKey, (ListState, CachedPage)>,
    bytes: usize,
}

impl ListCache {
    /// The page kept for `key`, if it was read at `state`'s version or later.
    pub fn get(&self, key: &ListKey, state: ListState) -> Option<CachedPage> {
        let pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        match pages.by_key.get(key) {
            Some((at, page)) if at.version == state.version => Some(page.clone()),
            _ => None,
        }
    }

    /// Keeps `page`, read after `state` was read.
    pub fn put(&self, key: ListKey, state: ListState, page: CachedPage) {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        let size = page.body.len() + key.query.len();
        if pages.bytes + size > MAX_BYTES {
            pages.by_key.clear();
            pages.bytes = 0;
        }
        if let Some((_, old)) = pages.by_key.insert(key, (state, page)) {
            pages.bytes = pages.bytes.saturating_sub(old.body.len());
        }
        pages.bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TargetId;

    #[test]
    fn a_page_is_served_only_at_its_version() {
        let cache = ListCache::default();
        let key = ListKey {
            owner: Owner::Target(TargetId(1)),
            query: "limit=100".into(),
        };
        let at = |v| ListState {
            live: 3,
            version: (1, v),
        };
        let page = CachedPage {
            total: 3,
            link: None,
            body: Bytes::from_static(b"[]"),
        };
        assert!(cache.get(&key, at(1)).is_none());
        cache.put(key.clone(), at(1), page);
        assert_eq!(cache.get(&key, at(1)).unwrap().total, 3);
        assert!(cache.get(&key, at(2)).is_none());
        let other = ListKey {
            query: "limit=10".into(),
            ..key.clone()
        };
        assert!(cache.get(&other, at(1)).is_none());
    }
}
