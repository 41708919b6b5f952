// Command redischeck exits 0 when the Redis named by its argument answers
// PING and 1 otherwise. It parses the URL as the server does (standalone,
// Sentinel and Cluster forms), so CI checks exactly what the tests will use.
//
//	go run ./.ci/redischeck redis://127.0.0.1:6379/0
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	redisstore "mutualauth/store/redis"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: redischeck REDIS_URL")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := redisstore.Open(ctx, os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "redischeck:", err)
		os.Exit(1)
	}
	_ = st.Close()
	fmt.Println("redischeck: Redis answers PING")
}
