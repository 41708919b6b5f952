// Package redistest provides Redis servers for tests.
//
// [URL] returns the URL in MUTUALAUTH_TEST_REDIS_URL when it is set, and
// otherwise starts one throwaway redis-server per test process (bound to
// 127.0.0.1 on a free port, no persistence) and returns its URL. [Start]
// starts a dedicated server that a test may stop and restart, for fault and
// persistence tests; [StartCluster] starts a one-node Redis Cluster and
// [StartSentinel] a Sentinel watching a started server, so that the Cluster
// and Sentinel code paths run against real servers. [NewPrefix] gives each
// test its own key prefix so that tests sharing one server do not see each
// other's keys.
//
// Servers are started with the redis-server binary found on PATH. On Linux
// they receive SIGKILL when the test process dies (PR_SET_PDEATHSIG), so no
// server outlives its test run.
package redistest
