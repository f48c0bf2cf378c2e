package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/icugate/icugate/api"
	"github.com/icugate/icugate/config"
)

// apiTokens reads the API tokens: from http.token_file, one token per line
// written "SECRET" or "NAME SECRET" (the name goes into the audit trail;
// blank lines and # comments are ignored), or from the ICUGATE_API_TOKEN
// environment variable (one token). None means mutating calls are open,
// which the gateway logs loudly at start.
func apiTokens(file string, getenv func(string) string) ([]api.Token, error) {
	var text, where string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("http.token_file: %w", err)
		}
		text, where = string(b), file
	case getenv("ICUGATE_API_TOKEN") != "":
		text, where = getenv("ICUGATE_API_TOKEN"), "ICUGATE_API_TOKEN"
	default:
		return nil, nil
	}
	list, err := config.ParseAPITokens(text, where)
	if err != nil {
		return nil, err
	}
	out := make([]api.Token, 0, len(list))
	for _, t := range list {
		out = append(out, api.Token{Name: t.Name, Role: t.Role, Secret: t.Secret})
	}
	return out, nil
}

// startAPI listens on the site's http.listen (or opts.Listener) and serves
// the API until ctx ends, with the site's http options (accepted host
// names, request timeout, event-stream cap). A listen error is a start
// error.
func (g *Gateway) startAPI(ctx context.Context, wg *sync.WaitGroup) error {
	site := g.Site()
	access, err := apiAccess(site, os.Getenv)
	if err != nil {
		return err
	}
	if len(access.Tokens) == 0 {
		g.log.Warn("no API token configured: maintenance, move and reload calls are open to anyone who can reach " + site.HTTP.Listen)
	}
	cfg := api.Config{
		Listen: site.HTTP.Listen, Tokens: access.Tokens, Hosts: site.HTTP.Hosts,
		ReadRequiresToken: access.ReadRequiresToken, PublicHealth: access.PublicHealth, PublicMetrics: access.PublicMetrics,
		RequestTimeout: site.HTTP.RequestTimeout, MaxEventClients: site.HTTP.MaxEventClients,
	}
	if site.HTTP.TLS != nil {
		pair, err := loadServingCert(site.HTTP.TLS, g)
		if err != nil {
			return err
		}
		sc := &servingCert{}
		sc.cert.Store(pair)
		g.cert.Store(sc)
		cfg.TLS = sc.tlsConfig()
	}
	srv, err := api.New(cfg, g.Backend(), api.Deps{
		Logger: g.log.With("component", "api"), Registerer: g.reg, Gatherer: g.reg, Now: g.now,
	})
	if err != nil {
		return err
	}
	g.api.Store(srv)
	ln := g.opts.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", site.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http.listen %s: %w", site.HTTP.Listen, err)
		}
	}
	g.apiAddr = ln.Addr().String()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, ln); err != nil && ctx.Err() == nil {
			g.log.Error("http server stopped", "err", err)
		}
	}()
	// Requests naming the gateway by another name are refused (421): say
	// which names it answers to, for whoever wonders why theirs is not.
	g.log.Info("http api listening", "addr", g.apiAddr, "hosts", site.HTTP.Hosts, "https", site.HTTP.TLS != nil,
		"read_requires_token", site.HTTP.ReadRequiresToken)
	return nil
}

// APIAddr is the address the API listens on, once running.
func (g *Gateway) APIAddr() string { return g.apiAddr }
