package teams

import (
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse-ci/gatehouse/internal/testclock"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestVerify(t *testing.T) {
	t.Parallel()
	ms := newFakeMS(t)
	serviceURL := ms.ServiceURL()
	with := func(changes map[string]any) map[string]any {
		c := claimsAt(testNow, serviceURL)
		for k, v := range changes {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	hs256 := func(t *testing.T) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("a shared secret of 32 bytes long")}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := jwt.Signed(signer).Claims(claimsAt(testNow, serviceURL)).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := func(t *testing.T) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"none","kid":"k1"}`)) + "." + enc([]byte(`{"iss":"https://api.botframework.com","aud":"`+testAppID+`","exp":1924916645}`)) + "."
	}
	signed := func(kid string, claims map[string]any) func(*testing.T) string {
		return func(t *testing.T) string { return ms.jwtFor(t, kid, claims) }
	}
	tests := []struct {
		name       string
		header     func(t *testing.T) string // the Authorization header
		serviceURL string
		channel    string
		wantStatus int // 0: accepted
	}{
		{"good", bearer(signed("k1", with(nil))), serviceURL, "msteams", 0},
		{"good for the emulator channel", bearer(signed("k2", with(nil))), serviceURL, "webchat", 0},
		{"no header", func(*testing.T) string { return "" }, serviceURL, "msteams", 401},
		{"not a bearer", func(t *testing.T) string { return "Basic " + ms.jwtFor(t, "k1", with(nil)) }, serviceURL, "msteams", 401},
		{"not a JWT", func(*testing.T) string { return "Bearer nonsense" }, serviceURL, "msteams", 401},
		{"unknown key", bearer(signed("k9", with(nil))), serviceURL, "msteams", 401},
		{"forged signature", bearer(func(t *testing.T) string { return forge(t, "k1", with(nil)) }), serviceURL, "msteams", 401},
		{"expired beyond the skew", bearer(signed("k1", with(map[string]any{"exp": testNow.Add(-6 * time.Minute).Unix()}))), serviceURL, "msteams", 401},
		{"expired within the skew", bearer(signed("k1", with(map[string]any{"exp": testNow.Add(-4 * time.Minute).Unix()}))), serviceURL, "msteams", 0},
		{"not valid yet beyond the skew", bearer(signed("k1", with(map[string]any{"nbf": testNow.Add(6 * time.Minute).Unix()}))), serviceURL, "msteams", 401},
		{"not valid yet within the skew", bearer(signed("k1", with(map[string]any{"nbf": testNow.Add(4 * time.Minute).Unix()}))), serviceURL, "msteams", 0},
		{"no expiry", bearer(signed("k1", with(map[string]any{"exp": nil}))), serviceURL, "msteams", 401},
		{"wrong audience", bearer(signed("k1", with(map[string]any{"aud": "another-bot"}))), serviceURL, "msteams", 401},
		{"audience among several", bearer(signed("k1", with(map[string]any{"aud": []string{"another-bot", testAppID}}))), serviceURL, "msteams", 0},
		{"wrong issuer", bearer(signed("k1", with(map[string]any{"iss": "https://sts.windows.net/x/"}))), serviceURL, "msteams", 401},
		{"service URL mismatch", bearer(signed("k1", with(nil))), "https://elsewhere.example/", "msteams", 403},
		{"no serviceurl claim", bearer(signed("k1", with(map[string]any{"serviceurl": nil}))), serviceURL, "msteams", 403},
		{"key not endorsed for the channel", bearer(signed("k2", with(nil))), serviceURL, "msteams", 403},
		{"no channel", bearer(signed("k1", with(nil))), serviceURL, "", 403},
		{"HS256", bearer(hs256), serviceURL, "msteams", 401},
		{"alg none", bearer(none), serviceURL, "msteams", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := NewVerifier(ms.OpenIDURL(), testAppID, ms.srv.Client(), testclock.New(testNow).Now)
			token, err := v.Verify(t.Context(), tt.header(t))
			if err == nil {
				err = token.Check(tt.serviceURL, tt.channel)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Status != tt.wantStatus {
				t.Fatalf("error %v, want an AuthError with status %d", err, tt.wantStatus)
			}
		})
	}
}

func bearer(token func(*testing.T) string) func(*testing.T) string {
	return func(t *testing.T) string { return "Bearer " + token(t) }
}

// forge signs claims with a key that is not the fake's, naming kid.
func forge(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: testKeys()[2], KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An unknown kid makes the verifier fetch the keys again, at most once a
// minute; a key added meanwhile is then accepted.
func TestVerifyUnknownKeyRefetches(t *testing.T) {
	ms := newFakeMS(t)
	c := testclock.New(testNow)
	v := NewVerifier(ms.OpenIDURL(), testAppID, ms.srv.Client(), c.Now)
	verify := func(kid string) error {
		_, err := v.Verify(t.Context(), "Bearer "+ms.jwtFor(t, kid, claimsAt(c.Now(), ms.ServiceURL())))
		return err
	}
	if err := verify("k1"); err != nil {
		t.Fatal(err)
	}
	if n := ms.KeyFetches(); n != 1 {
		t.Fatalf("%d key fetches, want 1", n)
	}
	steps := []struct {
		name        string
		advance     time.Duration
		kid         string
		wantFetches int
		wantStatus  int
	}{
		{"unknown key at once: not fetched", 0, "k3", 1, 401},
		{"unknown key a minute on: fetched again, still unknown", time.Minute, "k3", 2, 401},
		{"unknown key again within a minute: not fetched", 30 * time.Second, "k3", 2, 401},
		{"known key: not fetched", 0, "k1", 2, 0},
		{"a minute later: fetched again", 31 * time.Second, "k3", 3, 401},
		{"rotated in meanwhile: fetched and accepted", time.Minute, "k4", 4, 0},
		{"known keys a day later: fetched again", 24 * time.Hour, "k1", 5, 0},
	}
	for _, s := range steps {
		c.Advance(s.advance)
		if s.kid == "k4" {
			ms.mu.Lock()
			ms.keys = append(ms.keys, fakeKey{kid: "k4", priv: testKeys()[2], endorsements: []string{"msteams"}})
			ms.mu.Unlock()
		}
		err := verify(s.kid)
		var ae *AuthError
		switch {
		case s.wantStatus == 0 && err != nil:
			t.Errorf("%s: refused: %v", s.name, err)
		case s.wantStatus != 0 && (!errors.As(err, &ae) || ae.Status != s.wantStatus):
			t.Errorf("%s: error %v, want status %d", s.name, err, s.wantStatus)
		}
		if n := ms.KeyFetches(); n != s.wantFetches {
			t.Errorf("%s: %d key fetches, want %d", s.name, n, s.wantFetches)
		}
	}
}

// Keys that cannot be fetched make the token uncheckable (not a 401); keys
// fetched before stay in use when a later fetch fails.
func TestVerifyKeysUnavailable(t *testing.T) {
	ms := newFakeMS(t)
	c := testclock.New(testNow)
	v := NewVerifier(ms.OpenIDURL(), testAppID, ms.srv.Client(), c.Now)
	header := func() string { return "Bearer " + ms.jwtFor(t, "k1", claimsAt(c.Now(), ms.ServiceURL())) }

	ms.setMetaStatus(http.StatusServiceUnavailable)
	_, err := v.Verify(t.Context(), header())
	var ae *AuthError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("Verify with the metadata down: %v, want an error that is not an AuthError", err)
	}

	ms.setMetaStatus(0)
	c.Advance(time.Minute)
	if _, err := v.Verify(t.Context(), header()); err != nil {
		t.Fatalf("Verify once the metadata is back: %v", err)
	}

	ms.setMetaStatus(http.StatusServiceUnavailable)
	c.Advance(25 * time.Hour)
	if _, err := v.Verify(t.Context(), header()); err != nil {
		t.Errorf("Verify with stale keys and the metadata down: %v", err)
	}
}

func TestVerifyNeedsAppID(t *testing.T) {
	ms := newFakeMS(t)
	claims := claimsAt(testNow, ms.ServiceURL())
	claims["aud"] = ""
	v := NewVerifier(ms.OpenIDURL(), "", ms.srv.Client(), testclock.New(testNow).Now)
	if _, err := v.Verify(t.Context(), "Bearer "+ms.jwtFor(t, "k1", claims)); err == nil {
		t.Fatal("a verifier without an app id accepted a token")
	}
}

// The endorsements of the key set are read as Bot Framework publishes
// them, beside the standard JWK members.
func TestVerifyReadsEndorsements(t *testing.T) {
	ms := newFakeMS(t)
	v := NewVerifier(ms.OpenIDURL(), testAppID, ms.srv.Client(), testclock.New(testNow).Now)
	keys, err := v.fetch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for kid, k := range keys {
		got[kid] = k.endorsements
	}
	want := map[string][]string{"k1": {"msteams", "webchat"}, "k2": {"webchat"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("endorsements (-want +got):\n%s", d)
	}
}
