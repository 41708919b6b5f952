package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPU returns the CPU time (user + system) process pid has used, not
// counting its children: fields 14 and 15 of /proc/<pid>/stat (proc(5)).
// pid 0 is this process.
func procCPU(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(b))
}

func parseProcStatCPU(s string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields", len(f)+2)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// redisCPU returns the CPU time Redis reports having used (INFO cpu:
// used_cpu_sys + used_cpu_user), which works for a Redis started elsewhere.
func redisCPU(ctx context.Context, c *redis.Client) (time.Duration, error) {
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, err
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (k != "used_cpu_sys" && k != "used_cpu_user") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("INFO cpu %s: %w", k, err)
		}
		total += f
	}
	return time.Duration(total * float64(time.Second)), nil
}

// CPUShare is how many cores each party used on average during a phase.
// Machine is all the cores' busy time (/proc/stat), which also counts the
// kernel's network work for the three and any other process. IOWait is
// time cores sat idle while a disk write was pending (SQLite's fsyncs),
// Steal time the hypervisor gave this virtual machine's cores to others
// (counted in Machine): both explain a phase that got less of the machine
// than its load asked for.
type CPUShare struct {
	Server  float64 `json:"server_cores"`
	Redis   float64 `json:"redis_cores"`
	Load    float64 `json:"load_generator_cores"`
	Machine float64 `json:"machine_busy_cores"`
	IOWait  float64 `json:"iowait_cores"`
	Steal   float64 `json:"steal_cores"`
}

func (c CPUShare) String() string {
	return fmt.Sprintf("server %.2f, redis %.2f, load generator %.2f cores; machine busy %.2f cores (steal %.2f), iowait %.2f",
		c.Server, c.Redis, c.Load, c.Machine, c.Steal, c.IOWait)
}

// machineTimes is the first line of /proc/stat summed up.
type machineTimes struct{ busy, iowait, steal time.Duration }

// machineBusy returns the times of all cores together: busy (the first
// line of /proc/stat, proc(5), less idle and iowait), iowait and steal.
func machineBusy() (machineTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTimes{}, err
	}
	return parseProcStat(string(b))
}

func parseProcStat(s string) (machineTimes, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineTimes{}, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy, iowait, steal int64
	// user nice system idle iowait irq softirq steal [guest guest_nice];
	// guest time is already in user.
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return machineTimes{}, fmt.Errorf("/proc/stat: %w", err)
		}
		switch i {
		case 3:
		case 4:
			iowait = n
		case 7:
			steal = n
			busy += n
		default:
			busy += n
		}
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	return machineTimes{busy: tick(busy), iowait: tick(iowait), steal: tick(steal)}, nil
}

// cpuMeter samples the three parties' CPU time around a phase.
type cpuMeter struct {
	serverPID int
	redis     *redis.Client
}

type cpuSample struct {
	at                  time.Time
	server, redis, load time.Duration
	machine             machineTimes
}

func (m *cpuMeter) sample(ctx context.Context) cpuSample {
	s := cpuSample{at: time.Now()}
	s.server, _ = procCPU(m.serverPID)
	s.machine, _ = machineBusy()
	if m.redis != nil {
		s.redis, _ = redisCPU(ctx, m.redis)
	}
	s.load, _ = procCPU(0)
	return s
}

func share(a, b cpuSample) CPUShare {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return CPUShare{}
	}
	return CPUShare{
		Server:  (b.server - a.server).Seconds() / wall,
		Redis:   (b.redis - a.redis).Seconds() / wall,
		Load:    (b.load - a.load).Seconds() / wall,
		Machine: (b.machine.busy - a.machine.busy).Seconds() / wall,
		IOWait:  (b.machine.iowait - a.machine.iowait).Seconds() / wall,
		Steal:   (b.machine.steal - a.machine.steal).Seconds() / wall,
	}
}
