package audit

// AccountLocked is recorded when consecutive failures lock an account.
const AccountLocked = "account.locked"
