//! `mail_outbox`: mails waiting to be delivered (the transactional outbox).
//! Policy (who sends, retries, backoff) lives in `mail/`. A body holds a
//! single-use link, so it is blanked once the mail is delivered or given up.

use super::schema::mail_outbox;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;

#[derive(Debug, Insertable)]
#[diesel(table_name = mail_outbox)]
pub struct NewMail<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub body_html: &'a str,
    pub created_at: OffsetDateTime,
    pub next_attempt_at: OffsetDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_outbox)]
pub struct Mail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub attempts: i32,
    pub created_at: OffsetDateTime,
}

pub async fn insert(conn: &mut DbConn, mail: &NewMail<'_>) -> QueryResult<()> {
    diesel::insert_into(mail_outbox::table)
        .values(mail)
        .execute(conn)
        .await?;
    Ok(())
}

/// Up to `limit` undelivered mails that are due, locked for this transaction;
/// rows another sender holds are skipped, not waited for.
pub async fn claim_due(
    conn: &mut DbConn,
    now: OffsetDateTime,
    limit: i64,
) -> QueryResult<Vec<Mail>> {
    mail_outbox::table
        .filter(mail_outbox::sent_at.is_null())
        .filter(mail_outbox::failed_at.is_null())
        .filter(mail_outbox::next_attempt_at.le(now))
        .order(mail_outbox::id.asc())
        .limit(limit)
        .select(Mail::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

pub async fn mark_sent(conn: &mut DbConn, id: i64, now: OffsetDateTime) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::sent_at.eq(now),
            mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            mail_outbox::last_error.eq(None::<String>),
            mail_outbox::body_text.eq(""),
            mail_outbox::body_html.eq(""),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_failed(
    conn: &mut DbConn,
    id: i64,
    error: &str,
    next_attempt_at: OffsetDateTime,
) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            mail_outbox::last_error.eq(error),
            mail_outbox::next_attempt_at.eq(next_attempt_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives a mail up for good (permanent failure, too many attempts, or a
/// link dead before delivery): never claimed again, body blanked.
pub async fn mark_given_up(
    conn: &mut DbConn,
    id: i64,
    error: &str,
    now: OffsetDateTime,
) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::failed_at.eq(now),
            mail_outbox::attempts.eq(mail_outbox::attempts + 1),
            mail_outbox::last_error.eq(error),
            mail_outbox::body_text.eq(""),
            mail_outbox::body_html.eq(""),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every mail to `recipient`, sent or not (account deletion).
pub async fn delete_to(conn: &mut DbConn, recipient: &str) -> QueryResult<usize> {
    diesel::delete(mail_outbox::table.filter(mail_outbox::recipient.eq(recipient)))
        .execute(conn)
        .await
}

/// Deletes mails delivered before `before` (housekeeping).
pub async fn delete_sent_before(conn: &mut DbConn, before: OffsetDateTime) -> QueryResult<usize> {
    diesel::delete(
        mail_outbox::table.filter(
            mail_outbox::sent_at
                .lt(before)
                .or(mail_outbox::failed_at.lt(before)),
        ),
    )
    .execute(conn)
    .await
}
