package mosquittotest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/serverproc"
)

// TestShippedConfigsStart starts Mosquitto with the configs under
// configs/mosquitto, paths and ports moved into a temporary directory, to
// prove every directive in them is one the broker accepts.
func TestShippedConfigsStart(t *testing.T) {
	bin := Require(t)
	dir := t.TempDir()
	for _, name := range []string{"demo.conf", "mosquitto.conf"} {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("..", "..", "configs", "mosquitto", name))
			if err != nil {
				t.Fatal(err)
			}
			// Free ports can be taken between the check and mosquitto's
			// bind; retry with new ones on "Address already in use".
			for attempt := 0; ; attempt++ {
				logs, ok := startShipped(t, bin, dir, name, string(src))
				if ok {
					return
				}
				if attempt == 2 || !strings.Contains(logs, "Address already in use") {
					t.Fatalf("mosquitto refused %s: %s", name, logs)
				}
			}
		})
	}
}

// startShipped starts mosquitto with one shipped config, moved to free
// ports and a temporary directory, and reports whether every listener
// accepted a connection.
func startShipped(t *testing.T, bin, dir, name, conf string) (string, bool) {
	t.Helper()
	work := filepath.Join(dir, strings.TrimSuffix(name, ".conf"))
	if err := os.MkdirAll(filepath.Join(work, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	ports, err := serverproc.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	port, tlsPort := ports[0], ports[1]
	conf = strings.NewReplacer(
		"listener 18830 ", "listener "+strconv.Itoa(port)+" ",
		"listener 1883 ", "listener "+strconv.Itoa(port)+" ",
		"listener 8883", "listener "+strconv.Itoa(tlsPort)+" 127.0.0.1",
		"/etc/mosquitto/", work+"/",
		"/var/lib/mosquitto/", work+"/",
		"log_dest syslog", "log_dest stderr",
	).Replace(conf)
	if os.Geteuid() == 0 {
		conf = "user root\n" + conf
	}
	if name == "mosquitto.conf" {
		writeCerts(t, filepath.Join(work, "certs"))
		passwd := filepath.Join(work, "passwd")
		if out, err := exec.Command("mosquitto_passwd", "-c", "-b", passwd, "icugate", "secret").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd (from the mosquitto package): %v %s", err, out)
		}
		acl, _ := os.ReadFile(filepath.Join("..", "..", "configs", "mosquitto", "acl.example"))
		if err := os.WriteFile(filepath.Join(work, "acl"), acl, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(work, name)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if name == "demo.conf" {
		ports = ports[:1]
	}
	var p serverproc.Process
	cmd := exec.Command(bin, "-c", path)
	cmd.Dir = work
	err = p.Start(context.Background(), cmd, 5*time.Second, func() bool {
		for _, port := range ports {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 100*time.Millisecond)
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	})
	if err != nil {
		return fmt.Sprintf("listeners %v: %v: %s", ports, err, p.Logs()), false
	}
	p.Stop(5 * time.Second)
	return p.Logs(), true
}

// writeCerts makes a throwaway CA and broker certificate for 127.0.0.1.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for name, data := range map[string][]byte{
		"ca.crt": crt, "broker.crt": crt,
		"broker.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
