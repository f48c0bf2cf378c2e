package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/icugate/icugate/api"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/store"
)

// apiServer is the API server the gateway runs (named here so that
// gateway.go need not import api for one field).
type apiServer = api.Server

// apiAccess is the API access of site: its tokens (http.token_file or
// ICUGATE_API_TOKEN) and read protection.
func apiAccess(site *config.Site, getenv func(string) string) (api.Access, error) {
	tokens, err := apiTokens(site.HTTP.TokenFile, getenv)
	if err != nil {
		return api.Access{}, err
	}
	a := api.Access{
		Tokens:            tokens,
		ReadRequiresToken: site.HTTP.ReadRequiresToken,
		PublicHealth:      site.HTTP.HealthIsPublic(),
		PublicMetrics:     site.HTTP.MetricsArePublic(),
	}
	if a.ReadRequiresToken && len(tokens) == 0 {
		return a, fmt.Errorf("http.read_requires_token is on but no API token is configured: set http.token_file (or ICUGATE_API_TOKEN)")
	}
	return a, nil
}

// servingCert is the certificate the API serves HTTPS with. Reload reads
// the files again and swaps it, so a renewed certificate needs no
// restart; connections already open keep the one they began with.
type servingCert struct {
	cert atomic.Pointer[tls.Certificate]
}

// loadServingCert reads t's certificate and key and checks they belong
// together and are valid now.
func loadServingCert(t *config.ServerTLS, g *Gateway) (*tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("http.tls: cert_file %s / key_file %s: %w", t.CertFile, t.KeyFile, err)
	}
	if err := config.CertificateValidAt(pair.Leaf, g.now()); err != nil {
		return nil, fmt.Errorf("http.tls cert_file %s: %w", t.CertFile, err)
	}
	return &pair, nil
}

// tlsConfig is the server TLS configuration: TLS 1.2 or newer, the
// certificate from c (swapped by reloads).
func (c *servingCert) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cert.Load(), nil
		},
	}
}

// reloadHTTP applies the http block of a reloaded site: tokens and read
// protection at once; a new certificate when TLS is on. Listen address,
// host names and turning TLS on or off need a restart (logged).
func (g *Gateway) reloadHTTP(old, site *config.Site) error {
	srv := g.api.Load()
	if srv == nil {
		return nil
	}
	a, err := apiAccess(site, os.Getenv)
	if err != nil {
		return err
	}
	if err := srv.SetAccess(a); err != nil {
		return err
	}
	if (old.HTTP.TLS == nil) != (site.HTTP.TLS == nil) || old.HTTP.Listen != site.HTTP.Listen {
		g.log.Warn("http.listen or turning http.tls on/off takes effect at the next restart")
	}
	if sc := g.cert.Load(); site.HTTP.TLS != nil && sc != nil {
		pair, err := loadServingCert(site.HTTP.TLS, g)
		if err != nil {
			return err
		}
		sc.cert.Store(pair)
		g.log.Info("http certificate reloaded", "file", site.HTTP.TLS.CertFile, "expires", pair.Leaf.NotAfter)
	}
	return nil
}

// AuditTrail serves the stored audit trail (GET /api/v1/audit).
func (b Backend) AuditTrail(ctx context.Context, q api.AuditQuery) ([]api.AuditEntry, error) {
	if b.g.store == nil {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	list, err := b.g.store.FindAudit(store.AuditFilter{From: q.From, To: q.To, Who: q.Who, Device: q.Device, Action: q.Action, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]api.AuditEntry, 0, len(list))
	for _, e := range list {
		out = append(out, api.AuditEntry{Time: e.Time, Who: e.Who, Remote: e.Remote, Action: e.Action,
			Device: e.Device, Detail: e.Detail, Status: e.Status, Result: e.Result})
	}
	return out, nil
}
