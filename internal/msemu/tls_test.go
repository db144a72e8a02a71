package msemu

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// trusting returns a transport and a client that trust the emulator's
// certificate, and only it.
func trusting(t *testing.T, emu *Emulator) (*http.Transport, *http.Client) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(emu.CertPEM()) {
		t.Fatalf("CertPEM is not a PEM certificate: %q", emu.CertPEM())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	return tr, &http.Client{Transport: tr}
}

func TestCertPEM(t *testing.T) {
	t.Parallel()
	plain := start(t, Options{})
	if plain.CertPEM() != nil {
		t.Error("CertPEM without TLS is not nil")
	}
	if !strings.HasPrefix(plain.URL(), "http://") {
		t.Errorf("URL without TLS = %s", plain.URL())
	}

	emu := start(t, Options{TLS: true})
	if !strings.HasPrefix(emu.URL(), "https://127.0.0.1:") {
		t.Errorf("URL with TLS = %s, want https on 127.0.0.1", emu.URL())
	}
	block, rest := pem.Decode(emu.CertPEM())
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("CertPEM = %q, want one PEM certificate", emu.CertPEM())
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	check(t, err)
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", cert.PublicKey)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if diff := cmp.Diff([]string{"127.0.0.1", "::1"}, ips); diff != "" {
		t.Errorf("IP SANs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"localhost"}, cert.DNSNames); diff != "" {
		t.Errorf("DNS SANs (-want +got):\n%s", diff)
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life < 24*time.Hour || life > 25*time.Hour {
		t.Errorf("valid for %v, want a day", life)
	}
	if now := time.Now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		t.Errorf("not valid now: %v to %v", cert.NotBefore, cert.NotAfter)
	}

	_, client := trusting(t, emu)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		_, port, err := net.SplitHostPort(strings.TrimPrefix(emu.URL(), "https://"))
		check(t, err)
		a := doWith(t, client, http.MethodGet, "https://"+net.JoinHostPort(host, port)+"/v1/.well-known/keys", nil, "")
		if a.status != http.StatusOK {
			t.Errorf("GET keys by %s: %d", host, a.status)
		}
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, emu.OpenIDURL(), nil)
	check(t, err)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("a client without the certificate got %v, want an unknown authority", err)
	}
}

// TestServicesOverTLS checks that what the emulator served before TLS
// works over it: tokens, the Bot Connector, OpenID metadata, webhooks.
func TestServicesOverTLS(t *testing.T) {
	t.Parallel()
	emu := start(t, Options{TLS: true})
	check(t, emu.AddApp(emu.TenantID(), botID, botSecret))
	team := must[Team](t)(emu.AddTeam(Team{Name: "Release"}))
	check(t, emu.AddBot(team.ID, botID))
	_, client := trusting(t, emu)

	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, client)
	tok, err := (&clientcredentials.Config{
		ClientID: botID, ClientSecret: botSecret, TokenURL: emu.TokenURL(emu.TenantID()),
		Scopes: []string{"https://api.botframework.com/.default"},
	}).Token(ctx)
	check(t, err)

	hook, err := emu.AddWebhook("releases")
	check(t, err)
	meta := doWith(t, client, http.MethodGet, emu.OpenIDURL(), nil, "")
	jwks, _ := meta.json(t)["jwks_uri"].(string)
	tests := []struct {
		name, method, url string
		header            http.Header
		body              string
		want              int
	}{
		{"OpenID metadata", http.MethodGet, emu.OpenIDURL(), nil, "", http.StatusOK},
		{"Bot Framework keys", http.MethodGet, jwks, nil, "", http.StatusOK},
		{"identity keys", http.MethodGet, emu.URL() + "/" + emu.TenantID() + "/discovery/v2.0/keys", nil, "", http.StatusOK},
		{"post to a channel", http.MethodPost, connectorURL(emu, "conversations", team.ID, "activities"), bearer(tok.AccessToken), cardActivity("x"), http.StatusCreated},
		{"webhook", http.MethodPost, hook, jsonHeader(), webhookCard, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.HasPrefix(tt.url, "https://") {
				t.Fatalf("URL %s is not https", tt.url)
			}
			if a := doWith(t, client, tt.method, tt.url, tt.header, tt.body); a.status != tt.want {
				t.Errorf("got %d %s, want %d", a.status, a.body, tt.want)
			}
		})
	}
}
