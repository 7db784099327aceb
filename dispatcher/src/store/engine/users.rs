//! Desk users and login sessions. Only hashes are stored: the password as an argon2 PHC
//! string, the session token as its SHA-256 (a leaked database yields no usable token).

use super::super::sql::{Tx, V, text};
use super::super::{StoreError, StoreOptions};
use super::{User, UserRecord, parse_desk, us};
use chrono::{DateTime, Utc};

pub fn put(
    t: &mut dyn Tx,
    o: &StoreOptions,
    u: &UserRecord,
    replace: bool,
) -> Result<(), StoreError> {
    let params = [
        V::from(&u.user.username),
        V::from(&u.password_hash),
        V::from(u.user.desk_id.as_str()),
        V::from(&u.user.display_name),
        V::I(us(o.clock.now())),
    ];
    if replace {
        t.exec(
            "INSERT INTO users (username, password_hash, desk_id, display_name, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO UPDATE SET \
             password_hash = excluded.password_hash, desk_id = excluded.desk_id, \
             display_name = excluded.display_name",
            &params,
        )?;
        // A changed password or desk ends the user's sessions.
        t.exec(
            "DELETE FROM sessions WHERE username = $1",
            &[V::from(&u.user.username)],
        )?;
    } else {
        let n = t.exec(
            "INSERT INTO users (username, password_hash, desk_id, display_name, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
            &params,
        )?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "user {:?} already exists (use --replace to change it)",
                u.user.username
            )));
        }
    }
    Ok(())
}

pub fn get(t: &mut dyn Tx, username: &str) -> Result<Option<UserRecord>, StoreError> {
    let row = t.query_opt(
        "SELECT username, desk_id, display_name, password_hash FROM users WHERE username = $1",
        &[V::from(username)],
    )?;
    row.map(|r| {
        Ok(UserRecord {
            user: User {
                username: text(&r, 0, "username")?,
                desk_id: parse_desk(&text(&r, 1, "user desk")?)?,
                display_name: text(&r, 2, "display name")?,
            },
            password_hash: text(&r, 3, "password hash")?,
        })
    })
    .transpose()
}

pub fn list(t: &mut dyn Tx) -> Result<Vec<User>, StoreError> {
    t.query(
        "SELECT username, desk_id, display_name FROM users ORDER BY username",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(User {
            username: text(r, 0, "username")?,
            desk_id: parse_desk(&text(r, 1, "user desk")?)?,
            display_name: text(r, 2, "display name")?,
        })
    })
    .collect()
}

pub fn create_session(
    t: &mut dyn Tx,
    o: &StoreOptions,
    token_hash: &str,
    username: &str,
    csrf: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now = us(o.clock.now());
    // Expired sessions are swept on every login: no timer needed.
    t.exec("DELETE FROM sessions WHERE expires_at <= $1", &[V::I(now)])?;
    t.exec(
        "INSERT INTO sessions (token_hash, username, csrf, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            V::from(token_hash),
            V::from(username),
            V::from(csrf),
            V::I(now),
            V::I(us(expires_at)),
        ],
    )?;
    Ok(())
}

pub fn session(
    t: &mut dyn Tx,
    o: &StoreOptions,
    token_hash: &str,
) -> Result<Option<(User, String)>, StoreError> {
    let row = t.query_opt(
        "SELECT u.username, u.desk_id, u.display_name, s.csrf FROM sessions s \
         JOIN users u ON u.username = s.username \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
        &[V::from(token_hash), V::I(us(o.clock.now()))],
    )?;
    row.map(|r| {
        Ok((
            User {
                username: text(&r, 0, "username")?,
                desk_id: parse_desk(&text(&r, 1, "user desk")?)?,
                display_name: text(&r, 2, "display name")?,
            },
            text(&r, 3, "csrf")?,
        ))
    })
    .transpose()
}

pub fn delete_session(t: &mut dyn Tx, token_hash: &str) -> Result<(), StoreError> {
    t.exec(
        "DELETE FROM sessions WHERE token_hash = $1",
        &[V::from(token_hash)],
    )?;
    Ok(())
}
