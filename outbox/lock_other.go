//go:build !unix

package outbox

// The outbox takes a POSIX advisory lock (flock) on its directory so that
// two gateways never share one; icugate supports Linux (and builds on other
// Unix systems for development). Building for another system stops here,
// on purpose, with this name in the compiler's message.
var _ = icugate_runs_on_Linux_and_other_Unix_systems_only
