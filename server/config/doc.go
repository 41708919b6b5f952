// Package config reads mutualauth's configuration from the environment (the
// table in API.md, "Configuration") and validates it, so that a bad value
// stops the process at start with a message naming the variable.
package config
