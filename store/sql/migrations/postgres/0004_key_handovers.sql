-- A signing key added by a rotation carries its handover: a JWS signed by
-- the key named in handover_from (the previous active key) that introduces it.
ALTER TABLE signing_keys ADD COLUMN handover TEXT NOT NULL DEFAULT '';
ALTER TABLE signing_keys ADD COLUMN handover_from TEXT NOT NULL DEFAULT '';
