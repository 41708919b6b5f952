-- Initial schema (PostgreSQL). Times are TIMESTAMPTZ; NULL is the zero time.

CREATE TABLE users (
    id             TEXT        NOT NULL PRIMARY KEY,
    username       TEXT        NOT NULL,
    display_name   TEXT        NOT NULL DEFAULT '',
    role           TEXT        NOT NULL,
    disabled       BOOLEAN     NOT NULL DEFAULT FALSE,
    locked         BOOLEAN     NOT NULL DEFAULT FALSE,
    password_hash  TEXT        NOT NULL DEFAULT '',
    phrase         BYTEA,
    totp_secret    BYTEA,
    totp_last_step BIGINT      NOT NULL DEFAULT 0,
    totp_pending   BYTEA,
    enrolled_at    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE TABLE credentials (
    id               BYTEA       NOT NULL PRIMARY KEY,
    user_id          TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public_key       BYTEA       NOT NULL,
    attestation_type TEXT        NOT NULL DEFAULT '',
    aaguid           BYTEA,
    sign_count       BIGINT      NOT NULL DEFAULT 0,
    clone_warning    BOOLEAN     NOT NULL DEFAULT FALSE,
    user_present     BOOLEAN     NOT NULL DEFAULT FALSE,
    user_verified    BOOLEAN     NOT NULL DEFAULT FALSE,
    backup_eligible  BOOLEAN     NOT NULL DEFAULT FALSE,
    backup_state     BOOLEAN     NOT NULL DEFAULT FALSE,
    transports       TEXT        NOT NULL DEFAULT '[]',
    attachment       TEXT        NOT NULL DEFAULT '',
    name             TEXT        NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    last_used_at     TIMESTAMPTZ
);
CREATE INDEX credentials_user_id ON credentials (user_id);

CREATE TABLE recovery_codes (
    user_id   TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA       NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE devices (
    id           TEXT        NOT NULL PRIMARY KEY,
    user_id      TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BYTEA       NOT NULL,
    name         TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ,
    CONSTRAINT devices_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX devices_user_id ON devices (user_id);

CREATE TABLE invites (
    token_hash BYTEA       NOT NULL PRIMARY KEY,
    user_id    TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    used_at    TIMESTAMPTZ
);
CREATE INDEX invites_user_id ON invites (user_id);

CREATE TABLE clients (
    id          TEXT        NOT NULL PRIMARY KEY,
    name        TEXT        NOT NULL DEFAULT '',
    secret_hash BYTEA       NOT NULL,
    origins     TEXT        NOT NULL DEFAULT '[]',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit_events (
    id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    actor       TEXT        NOT NULL DEFAULT '',
    subject     TEXT        NOT NULL DEFAULT '',
    action      TEXT        NOT NULL,
    result      TEXT        NOT NULL DEFAULT '',
    ip          TEXT        NOT NULL DEFAULT '',
    detail      TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_subject ON audit_events (subject, id);
CREATE INDEX audit_events_action ON audit_events (action, id);

CREATE TABLE signing_keys (
    generation INTEGER     NOT NULL PRIMARY KEY,
    kid        TEXT        NOT NULL,
    sealed     BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ,
    CONSTRAINT signing_keys_kid_key UNIQUE (kid)
);
