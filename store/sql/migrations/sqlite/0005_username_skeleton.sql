-- The UTS #39 confusable skeleton of the username (store.Skeleton), unique
-- so that look-alike usernames cannot both be taken, even by concurrent
-- creates. It is computed in Go: Open fills it in for rows where it is
-- NULL. NULL also marks a row whose skeleton another user already held when
-- the column was filled (NULLs never collide in a UNIQUE index).
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton_key ON users (username_skeleton);
