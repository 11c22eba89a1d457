//! When a target record differs from what the last sync wrote (a hand edit), and which merge
//! base it keeps after a change that is not a sync: the one rule every writer of target
//! records follows (the sync's SQL forms of it are in `store::target_rows`).

/// A target record has hand edits: its hash differs from what the last sync wrote (or no sync
/// wrote it).
pub fn differs_from_sync(hash: &str, synced_hash: Option<&str>) -> bool {
    synced_hash != Some(hash)
}

/// The merge base to keep after a change that is not a sync (a hand edit, a restore, a
/// resolution) takes a target record from `hash` to `new_hash`: the base already kept, or (on
/// the first hand edit) the data the last sync wrote, `data`; none once the data is back to
/// what the last sync wrote.
pub fn base_after_manual_change(
    data: &str,
    hash: &str,
    synced_hash: Option<&str>,
    base_data: Option<&str>,
    new_hash: &str,
) -> Option<String> {
    if synced_hash == Some(new_hash) {
        return None;
    }
    base_data
        .map(str::to_string)
        .or_else(|| (synced_hash == Some(hash)).then(|| data.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_hand_edit_keeps_the_synced_data_as_base() {
        assert_eq!(
            base_after_manual_change("{\"a\":1}", "h1", Some("h1"), None, "h2"),
            Some("{\"a\":1}".into())
        );
    }

    #[test]
    fn later_edit_keeps_the_existing_base() {
        assert_eq!(
            base_after_manual_change("{\"a\":2}", "h2", Some("h1"), Some("{\"a\":1}"), "h3"),
            Some("{\"a\":1}".into())
        );
    }

    #[test]
    fn edit_back_to_the_synced_version_drops_the_base() {
        assert_eq!(
            base_after_manual_change("{\"a\":2}", "h2", Some("h1"), Some("{\"a\":1}"), "h1"),
            None
        );
        assert!(!differs_from_sync("h1", Some("h1")));
    }

    #[test]
    fn never_synced_counts_as_edited() {
        assert!(differs_from_sync("h1", None));
        assert!(differs_from_sync("h2", Some("h1")));
        // Never synced and no base: an edit keeps no base (there is nothing to merge against).
        assert_eq!(base_after_manual_change("{}", "h1", None, None, "h2"), None);
    }
}
