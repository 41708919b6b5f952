// Command pgcheck waits until the PostgreSQL server named by its argument
// answers a query, prints its version, and exits 1 when it does not answer
// in time. CI runs it before the tests so that an unreachable database fails
// loudly instead of skipping the PostgreSQL tests.
//
//	go run ./.ci/pgcheck [-wait 30s] postgres://user@host:5432/db?sslmode=disable
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	wait := flag.Duration("wait", 30*time.Second, "how long to keep trying")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: pgcheck [-wait 30s] POSTGRES_URL")
		os.Exit(2)
	}
	version, err := check(flag.Arg(0), *wait)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgcheck:", err)
		os.Exit(1)
	}
	fmt.Println("pgcheck:", version)
}

// check retries until a query succeeds or wait has passed, and returns the
// server's version string.
func check(url string, wait time.Duration) (string, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "", errors.New("the URL does not parse as a PostgreSQL connection string")
	}
	where := fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	deadline := time.Now().Add(wait)
	for {
		version, err := query(cfg)
		if err == nil {
			return fmt.Sprintf("%s answers: %s", where, version), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("PostgreSQL at %s did not answer within %s: %v", where, wait, err)
		}
		time.Sleep(time.Second)
	}
}

func query(cfg *pgx.ConnConfig) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return "", err
	}
	return version, nil
}
