//! References of the property tables, checked once per statement instead of once per row.
//!
//! * PostgreSQL runs a foreign key as a trigger per written row (a query that looks up and
//!   locks the referenced row): the three foreign keys of a target property were half the time
//!   of a sync to an empty target (1.95 s; 1.0-1.1 s with these triggers, at 100,000
//!   records), the two of a source property 40 % of the server's time in an import. They are
//!   replaced by statement triggers that do the same work for all rows a statement wrote at
//!   once:
//!   - an inserted property's owner (`source_id` / `target_id`) must exist **and belong to
//!     the property's tenant** (the old keys checked `tenant_id` only against `tenants`); the
//!     owner rows are locked `FOR KEY SHARE` as a foreign key does, so an owner cannot be
//!     deleted until the writing transaction ends;
//!   - a target property's `source_property_id`, when inserted or set, must be a record of
//!     the property's tenant; instead of locking every source record, the writer locks the
//!     sources of the records it refers to (`FOR KEY SHARE`), and a statement deleting source
//!     records locks their sources `FOR UPDATE` before it clears the references, so it waits
//!     for such writers and then sees their rows; clearing a reference (the `SET NULL`)
//!     checks and locks nothing, so concurrent deletes do not wait on each other;
//!   - deleting a source or target deletes its properties; deleting a source property sets
//!     `source_property_id` of the target properties made from it to NULL (one statement,
//!     instead of a scan of `target_properties` per deleted row);
//!   - key columns cannot be changed: the referenced ones (`sources.id/tenant_id`,
//!     `targets.id/tenant_id`; a key's NO ACTION rule refused that too) and what a property
//!     belongs to (`id`, `tenant_id`, `source_id` / `target_id` of both property tables; no
//!     code moves a record, and the checks rely on it);
//!   - `TRUNCATE` of sources, targets and both property tables is refused (it fires no delete
//!     triggers; `DELETE` does everything);
//!   - violations raise SQLSTATE 23503 (`foreign_key_violation`), as the keys did.
//! * SQLite keeps its foreign keys (a lookup in a B-tree per row, cheap there) and gets the
//!   index its `ON DELETE SET NULL` lacked: deleting a source scanned all target properties
//!   once per deleted source property (29 s for 20,000 synced records; quadratic).
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A property table and the table owning its rows.
struct Owned {
    properties: &'static str,
    owners: &'static str,
    owner_id: &'static str,
}

const OWNED: [Owned; 2] = [
    Owned {
        properties: "source_properties",
        owners: "sources",
        owner_id: "source_id",
    },
    Owned {
        properties: "target_properties",
        owners: "targets",
        owner_id: "target_id",
    },
];

/// The foreign keys of the initial schema that the triggers replace (PostgreSQL's names).
const KEYS: [(&str, &str, &str, &str, &str); 5] = [
    // (table, constraint, column, referenced table, on delete)
    (
        "source_properties",
        "source_properties_tenant_id_fkey",
        "tenant_id",
        "tenants",
        "CASCADE",
    ),
    (
        "source_properties",
        "source_properties_source_id_fkey",
        "source_id",
        "sources",
        "CASCADE",
    ),
    (
        "target_properties",
        "target_properties_tenant_id_fkey",
        "tenant_id",
        "tenants",
        "CASCADE",
    ),
    (
        "target_properties",
        "target_properties_target_id_fkey",
        "target_id",
        "targets",
        "CASCADE",
    ),
    (
        "target_properties",
        "target_properties_source_property_id_fkey",
        "source_property_id",
        "source_properties",
        "SET NULL",
    ),
];

/// Raises `foreign_key_violation` for the first row of `bad` (a query selecting `key`), if any.
fn refuse(table: &str, what: &str, bad: &str, key: &str) -> String {
    format!(
        "SELECT {key} INTO bad FROM ({bad}) b LIMIT 1; \
         IF FOUND THEN RAISE EXCEPTION 'insert or update on table \"{table}\" violates its \
         reference to {what}' USING ERRCODE = 'foreign_key_violation', \
         DETAIL = format('Key %s is not present.', bad); END IF;"
    )
}

fn postgres_up() -> Vec<String> {
    let mut sql = Vec::new();
    for (table, constraint, ..) in KEYS {
        sql.push(format!(
            "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint}"
        ));
    }
    for Owned {
        properties,
        owners,
        owner_id,
    } in OWNED
    {
        // Inserted properties: one pass over the rows collects the distinct (owner, tenant)
        // pairs; the owners are locked as a foreign key locks them, then each pair must be an
        // owner of that tenant. (Updates cannot change a property's owner or tenant, below.)
        let mut on_insert = format!(
            "SELECT array_agg(d.owner_id), array_agg(d.tenant_id) INTO owner_ids, tenant_ids \
             FROM (SELECT DISTINCT {owner_id} AS owner_id, tenant_id FROM new_rows) d; \
             PERFORM 1 FROM {owners} o WHERE o.id = ANY (owner_ids) FOR KEY SHARE; {}",
            refuse(
                properties,
                &format!("\"{owners}\" of its tenant"),
                &format!(
                    "SELECT u.owner_id, u.tenant_id FROM unnest(owner_ids, tenant_ids) \
                     AS u(owner_id, tenant_id) WHERE NOT EXISTS (SELECT 1 FROM {owners} o \
                     WHERE o.id = u.owner_id AND o.tenant_id = u.tenant_id)"
                ),
                &format!("format('({owner_id}, tenant_id)=(%s, %s)', b.owner_id, b.tenant_id)"),
            )
        );
        if properties == "target_properties" {
            // The source records referred to, by inserted rows or by updated rows that set a
            // new reference (clearing one checks nothing). A source record is deleted only
            // after its source row is locked `FOR UPDATE`
            // (`source_properties_clear_references`), and never moves to another source, so
            // locking the sources of the referred records `FOR KEY SHARE` keeps those records
            // until this transaction ends without locking each of them; after that lock, each
            // reference must be a record of the property's tenant.
            let sources = |rows: &str| {
                format!(
                    "SELECT array_agg(DISTINCT s.source_id) INTO source_ids \
                     FROM source_properties s WHERE s.id IN (SELECT n.source_property_id {rows}); \
                     PERFORM 1 FROM sources o WHERE o.id = ANY (source_ids) FOR KEY SHARE; {}",
                    refuse(
                        properties,
                        "\"source_properties\" of its tenant",
                        &format!(
                            "SELECT n.source_property_id {rows} AND NOT EXISTS \
                             (SELECT 1 FROM source_properties s WHERE \
                             s.id = n.source_property_id AND s.tenant_id = n.tenant_id)"
                        ),
                        "format('(source_property_id)=(%s)', b.source_property_id)",
                    )
                )
            };
            on_insert.push(' ');
            on_insert.push_str(&sources(
                "FROM new_rows n WHERE n.source_property_id IS NOT NULL",
            ));
            let on_update = sources(
                "FROM new_rows n JOIN old_rows o ON o.id = n.id \
                 WHERE n.source_property_id IS NOT NULL \
                 AND n.source_property_id IS DISTINCT FROM o.source_property_id",
            );
            sql.push(format!(
                "CREATE FUNCTION {properties}_check_references() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ DECLARE bad text; owner_ids bigint[]; \
                 tenant_ids bigint[]; source_ids bigint[]; BEGIN \
                 IF TG_OP = 'INSERT' THEN {on_insert} ELSE {on_update} END IF; \
                 RETURN NULL; END $$"
            ));
            sql.push(format!(
                "CREATE TRIGGER trg_{properties}_references_update AFTER UPDATE ON {properties} \
                 REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT \
                 EXECUTE FUNCTION {properties}_check_references()"
            ));
        } else {
            sql.push(format!(
                "CREATE FUNCTION {properties}_check_references() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ DECLARE bad text; owner_ids bigint[]; \
                 tenant_ids bigint[]; BEGIN {on_insert} RETURN NULL; END $$"
            ));
        }
        sql.push(format!(
            "CREATE TRIGGER trg_{properties}_references_insert AFTER INSERT ON {properties} \
             REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT \
             EXECUTE FUNCTION {properties}_check_references()"
        ));

        // Deleting owners deletes their properties.
        sql.push(format!(
            "CREATE FUNCTION {owners}_delete_properties() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN DELETE FROM {properties} WHERE {owner_id} IN \
             (SELECT id FROM old_rows); RETURN NULL; END $$"
        ));
        sql.push(format!(
            "CREATE TRIGGER trg_{owners}_delete_properties AFTER DELETE ON {owners} \
             REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT \
             EXECUTE FUNCTION {owners}_delete_properties()"
        ));
    }

    // Deleting source properties clears the references to them, after waiting for
    // transactions that wrote references to their sources' records.
    sql.push(
        "CREATE FUNCTION source_properties_clear_references() RETURNS trigger \
         LANGUAGE plpgsql AS $$ BEGIN \
         PERFORM 1 FROM sources o WHERE o.id IN (SELECT source_id FROM old_rows) FOR UPDATE; \
         UPDATE target_properties SET source_property_id = NULL \
         WHERE source_property_id IN (SELECT id FROM old_rows); \
         RETURN NULL; END $$"
            .into(),
    );
    sql.push(
        "CREATE TRIGGER trg_source_properties_clear_references AFTER DELETE ON \
         source_properties REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT \
         EXECUTE FUNCTION source_properties_clear_references()"
            .into(),
    );

    // Keys never change: the referenced ones (as a key's NO ACTION rule refused) and what a
    // property belongs to (no code moves one; the checks above rely on it). `UPDATE OF` fires
    // only when a statement sets the column, so other updates pay nothing.
    sql.push(
        "CREATE FUNCTION refuse_key_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         RAISE EXCEPTION 'the key columns of table \"%\" cannot be changed', \
         TG_TABLE_NAME USING ERRCODE = 'foreign_key_violation'; END $$"
            .into(),
    );
    for (table, columns) in KEY_COLUMNS {
        let changed = columns
            .split(", ")
            .map(|c| format!("OLD.{c} IS DISTINCT FROM NEW.{c}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        sql.push(format!(
            "CREATE TRIGGER trg_{table}_key BEFORE UPDATE OF {columns} ON {table} FOR EACH ROW \
             WHEN ({changed}) EXECUTE FUNCTION refuse_key_change()"
        ));
    }

    // TRUNCATE fires no row or delete triggers: it would leave records without owners or
    // references to nothing, and the live counts wrong. DELETE does it all.
    sql.push(
        "CREATE FUNCTION refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         RAISE EXCEPTION 'TRUNCATE of \"%\" is refused: it would bypass the triggers that keep \
         references and counts; use DELETE', TG_TABLE_NAME \
         USING ERRCODE = 'foreign_key_violation'; END $$"
            .into(),
    );
    for table in TRUNCATE_REFUSED {
        sql.push(format!(
            "CREATE TRIGGER trg_{table}_truncate BEFORE TRUNCATE ON {table} \
             FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate()"
        ));
    }
    sql
}

/// Tables whose key columns cannot change.
const KEY_COLUMNS: [(&str, &str); 4] = [
    ("sources", "id, tenant_id"),
    ("targets", "id, tenant_id"),
    ("source_properties", "id, tenant_id, source_id"),
    ("target_properties", "id, tenant_id, target_id"),
];

/// Tables that cannot be truncated (`TRUNCATE tenants CASCADE` reaches the owners).
const TRUNCATE_REFUSED: [&str; 4] = [
    "sources",
    "targets",
    "source_properties",
    "target_properties",
];

fn postgres_down() -> Vec<String> {
    let mut sql = Vec::new();
    for table in TRUNCATE_REFUSED {
        sql.push(format!(
            "DROP TRIGGER IF EXISTS trg_{table}_truncate ON {table}"
        ));
    }
    sql.push("DROP FUNCTION IF EXISTS refuse_truncate()".into());
    for (table, _) in KEY_COLUMNS {
        sql.push(format!("DROP TRIGGER IF EXISTS trg_{table}_key ON {table}"));
    }
    sql.push("DROP FUNCTION IF EXISTS refuse_key_change()".into());
    sql.push(
        "DROP TRIGGER IF EXISTS trg_source_properties_clear_references ON source_properties".into(),
    );
    sql.push("DROP FUNCTION IF EXISTS source_properties_clear_references()".into());
    for Owned {
        properties, owners, ..
    } in OWNED
    {
        sql.push(format!(
            "DROP TRIGGER IF EXISTS trg_{owners}_delete_properties ON {owners}"
        ));
        sql.push(format!(
            "DROP FUNCTION IF EXISTS {owners}_delete_properties()"
        ));
        for event in ["insert", "update"] {
            sql.push(format!(
                "DROP TRIGGER IF EXISTS trg_{properties}_references_{event} ON {properties}"
            ));
        }
        sql.push(format!(
            "DROP FUNCTION IF EXISTS {properties}_check_references()"
        ));
    }
    for (table, constraint, column, referenced, on_delete) in KEYS {
        sql.push(format!(
            "ALTER TABLE {table} ADD CONSTRAINT {constraint} FOREIGN KEY ({column}) \
             REFERENCES {referenced} (id) ON DELETE {on_delete}"
        ));
    }
    sql
}

const SQLITE_INDEX: &str = "idx_target_properties_source_property";

async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    for sql in statements {
        manager.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, postgres_up()).await,
            _ => {
                run(
                    manager,
                    vec![format!(
                        "CREATE INDEX {SQLITE_INDEX} ON target_properties (source_property_id)"
                    )],
                )
                .await
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => run(manager, postgres_down()).await,
            _ => {
                run(
                    manager,
                    vec![format!("DROP INDEX IF EXISTS {SQLITE_INDEX}")],
                )
                .await
            }
        }
    }
}
