//! `service_clients` and their secrets (only SHA-256 hashes), and
//! `retired_units`: the revocation units of disabled clients.

use super::schema::{retired_units, service_client_secrets, service_clients};
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = service_clients)]
pub struct ServiceClient {
    pub id: Uuid,
    pub name: String,
    pub scopes: String,
    pub unit_id: Uuid,
    pub disabled_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

pub async fn insert(conn: &mut DbConn, client: &ServiceClient) -> QueryResult<()> {
    diesel::insert_into(service_clients::table)
        .values(client)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find(conn: &mut DbConn, id: Uuid) -> QueryResult<Option<ServiceClient>> {
    service_clients::table
        .find(id)
        .select(ServiceClient::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_for_update(conn: &mut DbConn, id: Uuid) -> QueryResult<Option<ServiceClient>> {
    service_clients::table
        .find(id)
        .select(ServiceClient::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn list(conn: &mut DbConn) -> QueryResult<Vec<ServiceClient>> {
    service_clients::table
        .order(service_clients::created_at.asc())
        .select(ServiceClient::as_select())
        .load(conn)
        .await
}

/// Disables (`Some`) or enables (`None`) the client, with its new unit.
pub async fn set_state(
    conn: &mut DbConn,
    id: Uuid,
    disabled_at: Option<OffsetDateTime>,
    unit_id: Uuid,
) -> QueryResult<()> {
    diesel::update(service_clients::table.find(id))
        .set((
            service_clients::disabled_at.eq(disabled_at),
            service_clients::unit_id.eq(unit_id),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn add_secret(
    conn: &mut DbConn,
    client_id: Uuid,
    hash: &[u8],
    now: OffsetDateTime,
) -> QueryResult<()> {
    diesel::insert_into(service_client_secrets::table)
        .values((
            service_client_secrets::id.eq(Uuid::now_v7()),
            service_client_secrets::client_id.eq(client_id),
            service_client_secrets::secret_hash.eq(hash),
            service_client_secrets::created_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every secret of the client but the newest; how many went.
pub async fn retire_older_secrets(conn: &mut DbConn, client_id: Uuid) -> QueryResult<usize> {
    let newest: Option<Uuid> = service_client_secrets::table
        .filter(service_client_secrets::client_id.eq(client_id))
        .order(service_client_secrets::created_at.desc())
        .select(service_client_secrets::id)
        .first(conn)
        .await
        .optional()?;
    let Some(newest) = newest else { return Ok(0) };
    diesel::delete(
        service_client_secrets::table
            .filter(service_client_secrets::client_id.eq(client_id))
            .filter(service_client_secrets::id.ne(newest)),
    )
    .execute(conn)
    .await
}

/// How many secrets the client has.
pub async fn count_secrets(conn: &mut DbConn, client_id: Uuid) -> QueryResult<i64> {
    service_client_secrets::table
        .filter(service_client_secrets::client_id.eq(client_id))
        .count()
        .get_result(conn)
        .await
}

/// The client holding a secret with this hash.
pub async fn find_by_secret(
    conn: &mut DbConn,
    client_id: Uuid,
    hash: &[u8],
) -> QueryResult<Option<ServiceClient>> {
    service_clients::table
        .inner_join(service_client_secrets::table)
        .filter(service_clients::id.eq(client_id))
        .filter(service_client_secrets::secret_hash.eq(hash))
        .select(ServiceClient::as_select())
        .first(conn)
        .await
        .optional()
}

/// Records a retired revocation unit (a disabled client's).
pub async fn retire_unit(conn: &mut DbConn, unit: Uuid, now: OffsetDateTime) -> QueryResult<()> {
    diesel::insert_into(retired_units::table)
        .values((
            retired_units::id.eq(unit),
            retired_units::revoked_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Units retired after `since`, with when (for the revocation view).
pub async fn units_retired_since(
    conn: &mut DbConn,
    since: OffsetDateTime,
) -> QueryResult<Vec<(Uuid, OffsetDateTime)>> {
    retired_units::table
        .filter(retired_units::revoked_at.gt(since))
        .select((retired_units::id, retired_units::revoked_at))
        .load(conn)
        .await
}

/// Whether `unit` is the live unit of an enabled client.
pub async fn is_live_unit(conn: &mut DbConn, unit: Uuid) -> QueryResult<bool> {
    let n: i64 = service_clients::table
        .filter(service_clients::unit_id.eq(unit))
        .filter(service_clients::disabled_at.is_null())
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

/// Deletes retired units older than `cutoff` (their tokens have expired).
pub async fn delete_units_before(conn: &mut DbConn, cutoff: OffsetDateTime) -> QueryResult<usize> {
    diesel::delete(retired_units::table.filter(retired_units::revoked_at.lt(cutoff)))
        .execute(conn)
        .await
}
