package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/internal/testcerts"
)

// httpsClient trusts only the CA in caFile and opens a new connection for
// every request, so that each sees the certificate served at that moment.
func httpsClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA in", caFile)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true,
	}}
}

func httpsGet(t *testing.T, c *http.Client, url, token string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// installCert copies a certificate and key to the paths the site names.
func installCert(t *testing.T, f testcerts.Files, dir string) {
	t.Helper()
	for from, to := range map[string]string{f.Cert: "tls/server.crt", f.Key: "tls/server.key"} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHTTPSWithReloadedCertificateAndTokens serves the API over HTTPS with
// a certificate from a self-signed CA and read protection on: a client
// that trusts the CA reads with a token, not without; TLS 1.1 is refused;
// a renewed certificate (another CA) and a changed token file are taken by
// a reload without a restart; an expired certificate rejects the reload
// and the one in force stays.
func TestHTTPSWithReloadedCertificateAndTokens(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	first, err := testcerts.Write(dir, testcerts.Options{Prefix: "first-"})
	if err != nil {
		t.Fatal(err)
	}
	installCert(t, first, dir)
	const viewer, admin = "screen-token-0123456789", "admin-token-0123456789"
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("ward-screen viewer "+viewer+"\nit admin "+admin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	site, path := smallSite(t, dir, nil, `http:
  token_file: @DIR@/tokens
  read_requires_token: true
  tls:
    cert_file: @DIR@/tls/server.crt
    key_file: @DIR@/tls/server.key
`)
	ln := listen(t)
	g, err := New(site, Options{SitePath: path, DataDir: filepath.Join(dir, "data"), Logger: slog.New(slog.DiscardHandler), Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway Run: %v", err)
		}
	})
	addr := ln.Addr().String()
	base := "https://" + addr
	eventually(t, 10*time.Second, "https served", func() (bool, string) {
		code, _, err := httpsGet(t, httpsClient(t, first.CA), base+"/healthz", "")
		return code == 200, fmt.Sprint(code, err)
	})
	c := httpsClient(t, first.CA)

	if code, body, err := httpsGet(t, c, base+"/api/v1/site", viewer); err != nil || code != 200 {
		t.Fatalf("read with a viewer token over HTTPS: %d %v %s", code, err, body)
	}
	if code, _, err := httpsGet(t, c, base+"/api/v1/site", ""); err != nil || code != 401 {
		t.Fatalf("read without a token: %d %v, want 401", code, err)
	}
	if code, _, err := httpsGet(t, c, base+"/healthz", ""); err != nil || code != 200 {
		t.Fatalf("/healthz stays public by default: %d %v", code, err)
	}
	// The plain-HTTP form of the same address gets no answer it can use.
	if resp, err := (&http.Client{Timeout: 3 * time.Second}).Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the HTTPS port")
		}
	}
	old := httpsClient(t, first.CA)
	old.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS11
	if _, _, err := httpsGet(t, old, base+"/healthz", ""); err == nil {
		t.Error("a TLS 1.1 client was served")
	}

	// Renewal by another CA and the viewer's token withdrawn: one reload.
	second, err := testcerts.Write(dir, testcerts.Options{Prefix: "second-"})
	if err != nil {
		t.Fatal(err)
	}
	installCert(t, second, dir)
	if err := os.WriteFile(tokens, []byte("it admin "+admin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	c2 := httpsClient(t, second.CA)
	if code, _, err := httpsGet(t, c2, base+"/api/v1/site", admin); err != nil || code != 200 {
		t.Fatalf("after renewal, a client trusting the new CA: %d %v", code, err)
	}
	var uerr *tls.CertificateVerificationError
	if _, _, err := httpsGet(t, c, base+"/healthz", ""); !errors.As(err, &uerr) {
		t.Errorf("after renewal, the old CA still verifies the server: %v", err)
	}
	if code, _, _ := httpsGet(t, c2, base+"/api/v1/site", viewer); code != 403 {
		t.Errorf("withdrawn token after reload: %d, want 403", code)
	}

	// An expired certificate: the reload is refused and names why.
	expired, err := testcerts.Write(dir, testcerts.Options{Prefix: "expired-",
		NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	installCert(t, expired, dir)
	err = g.Reload(context.Background())
	if !errors.Is(err, ErrReloadRejected) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("reload with an expired certificate: %v, want a rejection naming the expiry", err)
	}
	if code, _, err := httpsGet(t, c2, base+"/healthz", ""); err != nil || code != 200 {
		t.Errorf("after the rejected reload the renewed certificate is no longer served: %d %v", code, err)
	}
}
