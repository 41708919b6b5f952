-- OpenID Connect provider: client redirect URIs and public flag, user email,
-- grants (refresh-token families), refresh tokens, ID-token signing keys.

ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';

ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN public BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE oidc_grants (
    id         TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    session_id TEXT    NOT NULL DEFAULT '',
    scopes     TEXT    NOT NULL DEFAULT '[]',
    amr        TEXT    NOT NULL DEFAULT '[]',
    auth_time  TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX oidc_grants_user_id ON oidc_grants (user_id);
CREATE INDEX oidc_grants_session_id ON oidc_grants (session_id);

CREATE TABLE oidc_refresh_tokens (
    token_hash BYTEA   NOT NULL PRIMARY KEY,
    grant_id   TEXT    NOT NULL REFERENCES oidc_grants (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    used_at    TIMESTAMPTZ
);
CREATE INDEX oidc_refresh_tokens_grant_id ON oidc_refresh_tokens (grant_id);

CREATE TABLE oidc_keys (
    alg        TEXT    NOT NULL,
    generation INTEGER NOT NULL,
    kid        TEXT    NOT NULL,
    sealed     BYTEA   NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ,
    PRIMARY KEY (alg, generation),
    CONSTRAINT oidc_keys_kid_key UNIQUE (kid)
);
