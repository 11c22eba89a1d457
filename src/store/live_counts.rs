//! The live-record counts and versions the database keeps per source and target (migration
//! `m20261122_000004_live_counts`): read them, recount after an insert (SQLite), fold them
//! (PostgreSQL).
use super::sql::Sql;
use crate::domain::listing::ListState;
use crate::error::{AppError, AppResult};
use crate::ids::{Owner, TenantId};
use sea_orm::ConnectionTrait;

/// The tables of a kept live-property count (migration `m20261122_000004_live_counts`).
struct Counts {
    owners: &'static str,
    counts: &'static str,
    owner_id: &'static str,
}

const SOURCE_COUNTS: Counts = Counts {
    owners: "sources",
    counts: "source_live_counts",
    owner_id: "source_id",
};

const TARGET_COUNTS: Counts = Counts {
    owners: "targets",
    counts: "target_live_counts",
    owner_id: "target_id",
};

/// The count tables of an owner, and its id.
fn counts_of(owner: Owner) -> (Counts, i64) {
    match owner {
        Owner::Source(s) => (SOURCE_COUNTS, s.0),
        Owner::Target(t) => (TARGET_COUNTS, t.0),
    }
}

/// The list state of a source or target of the tenant (one indexed read; no count over the
/// records); not found when it is not the tenant's.
pub async fn list_state(
    conn: &impl ConnectionTrait,
    tenant: TenantId,
    owner: Owner,
) -> AppResult<ListState> {
    let (
        Counts {
            owners,
            counts,
            owner_id,
        },
        id,
    ) = counts_of(owner);
    let backend = conn.get_database_backend();
    let select = if backend == sea_orm::DbBackend::Postgres {
        "CAST(coalesce(sum(c.live), 0) AS BIGINT), count(c.id), CAST(coalesce(max(c.id), 0) AS BIGINT)"
    } else {
        "coalesce(sum(c.live), 0), count(c.version), coalesce(max(c.version), 0)"
    };
    let mut q = Sql::new(
        backend,
        &format!(
            "SELECT {select} FROM {owners} o LEFT JOIN {counts} c ON c.{owner_id} = o.id \
             WHERE o.id = "
        ),
    );
    q.bind(id).push(" AND o.tenant_id = ").bind(tenant.0);
    q.push(" GROUP BY o.id");
    let not_found = || match owner {
        Owner::Source(s) => AppError::not_found("source", s),
        Owner::Target(t) => AppError::not_found("target", t),
    };
    let row = q.fetch_one(conn).await?.ok_or_else(not_found)?;
    Ok(ListState {
        live: row.try_get_by_index::<i64>(0)?.max(0) as u64,
        version: (
            row.try_get_by_index::<i64>(1)?,
            row.try_get_by_index::<i64>(2)?,
        ),
    })
}

/// Sets the kept live count of the owner of newly inserted records and moves its version,
/// inside the inserting transaction. SQLite keeps no insert trigger (a row trigger costs ~15 %
/// of a bulk import); its writers are serialised, so a count within the transaction is exact.
/// PostgreSQL's statement triggers already counted the insert.
pub async fn recount_after_insert(conn: &impl ConnectionTrait, owner: Owner) -> AppResult<()> {
    let backend = conn.get_database_backend();
    if backend != sea_orm::DbBackend::Sqlite {
        return Ok(());
    }
    let (
        Counts {
            counts, owner_id, ..
        },
        id,
    ) = counts_of(owner);
    let props = match owner {
        Owner::Source(_) => "source_properties",
        Owner::Target(_) => "target_properties",
    };
    let mut q = Sql::new(
        backend,
        &format!(
            "UPDATE {counts} SET version = version + 1, live = (SELECT count(*) FROM {props} \
             WHERE {owner_id} = {id} AND deleted_at IS NULL) WHERE {owner_id} = "
        ),
    );
    q.bind(id);
    q.execute(conn).await?;
    Ok(())
}

/// Folds the kept-count rows of the tenant's sources and targets into one row per owner.
/// Only PostgreSQL appends rows (one per owner and writing statement); SQLite keeps one.
pub async fn fold_live_counts(conn: &impl ConnectionTrait, tenant: TenantId) -> AppResult<()> {
    let backend = conn.get_database_backend();
    if backend != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    for Counts {
        owners,
        counts,
        owner_id,
    } in [SOURCE_COUNTS, TARGET_COUNTS]
    {
        let mut q = Sql::new(
            backend,
            &format!(
                "WITH gone AS (DELETE FROM {counts} c USING {owners} o \
                 WHERE c.{owner_id} = o.id AND o.tenant_id = "
            ),
        );
        q.bind(tenant.0).push(&format!(
            " RETURNING c.{owner_id} AS owner, c.live) \
             INSERT INTO {counts} ({owner_id}, live) \
             SELECT owner, sum(live) FROM gone GROUP BY owner"
        ));
        q.execute(conn).await?;
    }
    Ok(())
}
