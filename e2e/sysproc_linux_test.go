package e2e

import "syscall"

// sysProcAttr makes a server die with the test process (PR_SET_PDEATHSIG),
// so none outlives a killed test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
