//go:build !linux

package serverproc

import "syscall"

// dieWithParent has no equivalent outside Linux: a killed test binary may
// leave its server running there.
func dieWithParent() *syscall.SysProcAttr { return nil }
