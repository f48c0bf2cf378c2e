package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/icugate/icugate/api"
	"github.com/icugate/icugate/config"
)

// apiClientFlags say how `icugate backup` reaches a running gateway.
type apiClientFlags struct {
	url, tokenFile, caFile *string
}

func (a *apiClientFlags) register(fs *flag.FlagSet) {
	a.url = fs.String("url", "", "the running gateway's backup `URL` (default: from the site's http.listen and http.tls)")
	a.tokenFile = fs.String("token-file", "", "`file` holding an admin API token (default: the site's http.token_file)")
	a.caFile = fs.String("cacert", "", "PEM CA `file` that signs the gateway's certificate, when it serves HTTPS (default: the system's)")
}

// fetchTimeout bounds fetching one copy of state.db from the gateway.
const fetchTimeout = 15 * time.Minute

// fetchState copies state.db from the running gateway's API into w, and
// checks that all of it came.
func fetchState(site *config.Site, a apiClientFlags, w io.Writer) error {
	url := *a.url
	if url == "" {
		url = backupURL(site)
	}
	client := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 30 * time.Second}}
	if *a.caFile != "" {
		pem, err := os.ReadFile(*a.caFile)
		if err != nil {
			return fmt.Errorf("-cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-cacert %s: no PEM certificate found", *a.caFile)
		}
		client.Transport = &http.Transport{ResponseHeaderTimeout: 30 * time.Second,
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	token, err := adminToken(site, *a.tokenFile)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Reason string }
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
		msg := fmt.Sprintf("%s answered %s: %s: %s", url, resp.Status, e.Error, e.Reason)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			msg += " (give an admin token with -token-file)"
		}
		return errors.New(msg)
	}
	if resp.Header.Get(api.StateFormatHeader) == "" || resp.ContentLength < 0 {
		return fmt.Errorf("%s did not answer with a state.db copy (no %s or Content-Length): is it an icugate of this version?", url, api.StateFormatHeader)
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && n != resp.ContentLength {
		err = fmt.Errorf("got %d bytes of %d", n, resp.ContentLength)
	}
	if err != nil {
		return fmt.Errorf("copy from %s cut short: %w", url, err)
	}
	return nil
}

// backupURL is the gateway's backup route on its http.listen, reached on
// the loopback address when it listens on every address.
func backupURL(site *config.Site) string {
	listen := site.HTTP.Listen
	if listen == "" {
		listen = api.DefaultListen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		host, port = listen, "8080"
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() == nil:
		host = "::1"
	case ip != nil && ip.IsUnspecified():
		host = "127.0.0.1"
	}
	scheme := "http"
	if site.HTTP.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/api/v1/backup"
}

// adminToken is the token to send: the first admin token of -token-file,
// else of the site's http.token_file (readable only by who may read the
// secrets; without it the gateway refuses when it has tokens). A file
// holding the secret alone is read as an admin token, as the gateway does.
func adminToken(site *config.Site, tokenFile string) (string, error) {
	path := tokenFile
	if path == "" {
		path = site.HTTP.TokenFile
	}
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if tokenFile != "" {
			return "", fmt.Errorf("-token-file: %w", err)
		}
		return "", nil
	}
	tokens, err := config.ParseAPITokens(string(b), path)
	if err != nil {
		return "", err
	}
	for _, t := range tokens {
		if t.Role == config.RoleAdmin {
			return t.Secret, nil
		}
	}
	if tokenFile != "" && len(tokens) > 0 {
		return tokens[0].Secret, nil // the gateway says what its role allows
	}
	return "", nil
}
