package serverproc

import (
	"syscall"
	"testing"
)

// TestServersDieWithTheTest: on Linux a server gets SIGKILL when the
// program that started it dies, so a killed test binary leaves no server.
func TestServersDieWithTheTest(t *testing.T) {
	if a := dieWithParent(); a == nil || a.Pdeathsig != syscall.SIGKILL {
		t.Errorf("process attributes %+v; want Pdeathsig SIGKILL", a)
	}
}
