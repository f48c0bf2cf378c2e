package mailpittest

import "github.com/icugate/icugate/internal/testcerts"

// writeCerts makes a throwaway CA (ca.crt) and a server certificate for
// 127.0.0.1 and localhost signed by it (server.crt, server.key) in dir. A
// client that trusts ca.crt verifies the server as it would a real relay:
// chain and name, no InsecureSkipVerify.
func writeCerts(dir string) error {
	_, err := testcerts.Write(dir, testcerts.Options{})
	return err
}
