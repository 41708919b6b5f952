package redistest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartCluster starts a one-node Redis Cluster that owns all 16384 slots.
// Redis enforces the cluster rules on it (CROSSSLOT for multi-key commands
// and scripts whose keys hash to different slots), so code that passes on it
// keeps every operation within one slot. Its URL is Server.ClusterURL.
func StartCluster(args ...string) (*Server, error) {
	s, err := Start(append([]string{"--cluster-enabled", "yes"}, args...)...)
	if err != nil {
		return nil, err
	}
	if err := s.assignAllSlots(); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// StartClusterT is [StartCluster] for a test, as [StartT] is for [Start].
func StartClusterT(t testing.TB, args ...string) *Server {
	t.Helper()
	Need(t)
	s, err := StartCluster(args...)
	return forTest(t, s, err)
}

// ClusterURL returns the server's redis+cluster:// URL (store/redis form).
func (s *Server) ClusterURL() string { return "redis+cluster://" + s.Addr() }

func (s *Server) assignAllSlots() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyWithin)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		return fmt.Errorf("redistest: assign cluster slots on %s: %w", s.Addr(), err)
	}
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: cluster on %s not ready: %v", s.Addr(), info)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
