package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"

	"mutualauth/store"
)

// skeletonBatch is how many rows one backfill transaction fills.
const skeletonBatch = 500

// backfillSkeletons fills users.username_skeleton where it is NULL: in
// rows written before migration 0005, and in rows that could not have
// their skeleton before. The skeleton is computed in Go (store.Skeleton),
// so no migration can fill it. Oldest rows first: of users that already
// look alike, the one that holds the skeleton keeps it (else the oldest),
// and the others stay NULL rather than stopping the start; a warning
// gives their number, never their names. Since the holder's skeleton is
// theirs too, no new look-alike of any of them can be created.
//
// It runs at every Open and touches only NULL rows, so a store without
// such rows pays one indexed query. Another instance creating a user at
// the same moment can make a batch fail on the unique index; the
// backfill then starts over, up to three times.
func (s *Store) backfillSkeletons(ctx context.Context) error {
	var err error
	for range 3 {
		if err = s.fillSkeletons(ctx); !errors.Is(err, store.ErrAlreadyExists) {
			break
		}
	}
	if err != nil {
		return wrap("fill username skeletons", err)
	}
	var left int
	if err := s.queryRow(ctx, s.db, "SELECT COUNT(*) FROM users WHERE username_skeleton IS NULL").Scan(&left); err != nil {
		return wrap("count usernames without a skeleton", err)
	}
	if left > 0 {
		slog.Default().Warn("sqlstore: users whose username looks like another user's, from before look-alike usernames were refused, keep their names but reserve no skeleton",
			"count", left)
	}
	return nil
}

type userName struct{ id, username string }

// fillSkeletons is one pass of backfillSkeletons.
func (s *Store) fillSkeletons(ctx context.Context) error {
	rows, err := s.query(ctx, s.db, "SELECT id, username FROM users WHERE username_skeleton IS NULL ORDER BY created_at, id")
	if err != nil {
		return err
	}
	var list []userName
	for rows.Next() {
		var n userName
		if err := rows.Scan(&n.id, &n.username); err != nil {
			rows.Close()
			return err
		}
		list = append(list, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for start := 0; start < len(list); start += skeletonBatch {
		batch := list[start:min(start+skeletonBatch, len(list))]
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			for _, n := range batch {
				skel := store.Skeleton(n.username)
				_, err := s.exec(ctx, tx, `UPDATE users SET username_skeleton = ?
					WHERE id = ? AND username_skeleton IS NULL
					AND NOT EXISTS (SELECT 1 FROM users WHERE username_skeleton = ?)`, skel, n.id, skel)
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return classify(err)
		}
	}
	return nil
}
