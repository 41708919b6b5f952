package redistest

import "strconv"

// StartSentinel starts a Redis Sentinel (redis-server --sentinel) that
// monitors primary under masterName with a quorum of 1. Its URL is
// Server.SentinelURL. confLines are added to its configuration, e.g.
// "sentinel down-after-milliseconds NAME 500".
func StartSentinel(masterName string, primary *Server, confLines ...string) (*Server, error) {
	lines := append([]string{
		"sentinel monitor " + masterName + " 127.0.0.1 " + strconv.Itoa(primary.port) + " 1",
		"sentinel resolve-hostnames no",
	}, confLines...)
	s, err := start("sentinel.conf", []string{"--sentinel"}, lines...)
	if err != nil {
		return nil, err
	}
	s.masterName = masterName
	return s, nil
}

// SentinelURL returns the sentinel's redis+sentinel:// URL (store/redis form)
// for database db of the monitored primary.
func (s *Server) SentinelURL(db int) string {
	return "redis+sentinel://" + s.Addr() + "/" + strconv.Itoa(db) + "?master=" + s.masterName
}
