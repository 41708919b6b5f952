-- TLS client certificates bound to users (docs/mtls.md).
CREATE TABLE client_certs (
    fingerprint  TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subject      TEXT    NOT NULL DEFAULT '',
    issuer       TEXT    NOT NULL DEFAULT '',
    serial       TEXT    NOT NULL DEFAULT '',
    not_before   INTEGER,
    not_after    INTEGER,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;
CREATE INDEX client_certs_user_id ON client_certs (user_id);
