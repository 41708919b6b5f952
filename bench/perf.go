package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// profiler records the server with perf(1) during a load phase when a
// directory is set, and writes perf report's summary beside the data.
type profiler struct {
	dir string
	pid int
	log func(string, ...any)
}

func (p *profiler) start(phase string) (stop func()) {
	if p.dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.log("perf: %v", err)
		return func() {}
	}
	data := filepath.Join(p.dir, phase+".perf.data")
	cmd := exec.Command("perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(p.pid), "-o", data)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		p.log("perf: %v (is perf installed?)", err)
		return func() {}
	}
	time.Sleep(200 * time.Millisecond)
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
		out, err := exec.Command("perf", "report", "-i", data, "--stdio", "--no-children",
			"--percent-limit", "1", "--sort", "symbol", "-g", "none").Output()
		if err != nil {
			p.log("perf report %s: %v", phase, err)
			return
		}
		txt := filepath.Join(p.dir, phase+".txt")
		if err := os.WriteFile(txt, out, 0o644); err != nil {
			p.log("perf: %v", err)
			return
		}
		p.log("perf: %s profile in %s", phase, txt)
	}
}
