package store

import "github.com/mtibben/confusables"

// Skeleton is the UTS #39 §4 confusable skeleton of a prepared username:
// two usernames with equal skeletons look alike. It lives here because it
// is a uniqueness key of users that every [Durable] backend enforces
// ([ErrLookAlike]), so the account rules and the backends share this one
// definition.
func Skeleton(username string) string { return confusables.Skeleton(username) }
