package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/icugate/icugate/api"
)

// apiTokens reads the API tokens: from http.token_file (one token per
// line, "SECRET" or "NAME:SECRET"; blank lines and # comments ignored) or
// the ICUGATE_API_TOKEN environment variable. None means mutating calls
// are open, which the gateway logs loudly at start.
func apiTokens(file string, getenv func(string) string) ([]api.Token, error) {
	var text string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("http.token_file: %w", err)
		}
		text = string(b)
	case getenv("ICUGATE_API_TOKEN") != "":
		text = getenv("ICUGATE_API_TOKEN")
	default:
		return nil, nil
	}
	var out []api.Token
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, secret, ok := strings.Cut(line, ":")
		if !ok {
			name, secret = "token", line
		}
		if len(secret) < 16 {
			return nil, fmt.Errorf("http.token_file: a token is shorter than 16 characters; use a long random one (e.g. openssl rand -hex 32)")
		}
		out = append(out, api.Token{Name: name, Secret: secret})
	}
	return out, nil
}

// startAPI listens on the site's http.listen (or opts.Listener) and serves
// the API until ctx ends. A listen error is a start error.
func (g *Gateway) startAPI(ctx context.Context, wg *sync.WaitGroup) error {
	site := g.Site()
	tokens, err := apiTokens(site.HTTP.TokenFile, os.Getenv)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		g.log.Warn("no API token configured: maintenance, move and reload calls are open to anyone who can reach " + site.HTTP.Listen)
	}
	srv, err := api.New(api.Config{Listen: site.HTTP.Listen, Tokens: tokens}, g.Backend(), api.Deps{
		Logger: g.log.With("component", "api"), Registerer: g.reg, Gatherer: g.reg, Now: g.now,
	})
	if err != nil {
		return err
	}
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
	g.log.Info("http api listening", "addr", g.apiAddr)
	return nil
}

// APIAddr is the address the API listens on, once running.
func (g *Gateway) APIAddr() string { return g.apiAddr }
