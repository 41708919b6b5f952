-- OpenID Connect provider: client redirect URIs and public flag, user email,
-- grants (refresh-token families), refresh tokens, ID-token signing keys.

ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';

ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN public INTEGER NOT NULL DEFAULT 0;

CREATE TABLE oidc_grants (
    id         TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    session_id TEXT    NOT NULL DEFAULT '',
    scopes     TEXT    NOT NULL DEFAULT '[]',
    amr        TEXT    NOT NULL DEFAULT '[]',
    auth_time  INTEGER,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
) STRICT;
CREATE INDEX oidc_grants_user_id ON oidc_grants (user_id);
CREATE INDEX oidc_grants_session_id ON oidc_grants (session_id);

CREATE TABLE oidc_refresh_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    grant_id   TEXT    NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    used_at    INTEGER
) STRICT;
CREATE INDEX oidc_refresh_tokens_grant_id ON oidc_refresh_tokens (grant_id);

CREATE TABLE oidc_keys (
    alg        TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    kid        TEXT    NOT NULL,
    sealed     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    PRIMARY KEY (alg, generation),
    CONSTRAINT oidc_keys_kid_key UNIQUE (kid)
) STRICT;
