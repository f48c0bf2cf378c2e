package serverproc

import "syscall"

// dieWithParent makes the child get SIGKILL when the process that started
// it dies, even a killed test binary, so that no server outlives its test.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
