package oidc_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sethvargo/go-githubactions"

	"github.com/gatehouse-ci/gatehouse/internal/ghemu/oidcissuer"
	"github.com/gatehouse-ci/gatehouse/internal/oidc"
)

const audience = "https://gatehouse.example.com"

func job() oidcissuer.JobClaims {
	return oidcissuer.JobClaims{
		Repository:           "octo-org/octo-repo",
		RepositoryID:         74,
		RepositoryOwnerID:    65,
		RepositoryVisibility: "private",
		Actor:                "octocat",
		ActorID:              12,
		RunID:                22259804324,
		RunNumber:            42,
		RunAttempt:           2,
		Workflow:             "deploy",
		WorkflowRef:          "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
		WorkflowSHA:          "c040cae0f0dc81641728557b80f09cfa23b83fe5",
		Ref:                  "refs/heads/main",
		RefProtected:         true,
		SHA:                  "c040cae0f0dc81641728557b80f09cfa23b83fe5",
		EventName:            "workflow_dispatch",
		Environment:          "production",
		RunnerEnvironment:    "github-hosted",
	}
}

// link is the verifier's way to the issuer: it passes requests on, or fails
// them all while fail is set, and counts requests by path.
type link struct {
	mu     sync.Mutex
	fail   func(*http.Request) (*http.Response, error)
	counts map[string]int
}

func (l *link) RoundTrip(req *http.Request) (*http.Response, error) {
	l.mu.Lock()
	if l.counts == nil {
		l.counts = map[string]int{}
	}
	l.counts[req.URL.Path]++
	fail := l.fail
	l.mu.Unlock()
	if fail != nil {
		return fail(req)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (l *link) set(fail func(*http.Request) (*http.Response, error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail = fail
}

func (l *link) count(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[path]
}

func refuse(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

func answer(code int) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: code,
			Status:     fmt.Sprintf("%d %s", code, http.StatusText(code)),
			Header:     http.Header{},
			Body:       io.NopCloser(strings.NewReader("")),
			Request:    req,
		}, nil
	}
}

func startIssuer(t *testing.T) *oidcissuer.Issuer {
	t.Helper()
	iss := oidcissuer.New()
	iss.Start()
	t.Cleanup(iss.Close)
	return iss
}

func newVerifier(t *testing.T, iss *oidcissuer.Issuer, l *link, opts ...oidc.Option) *oidc.Verifier {
	t.Helper()
	opts = append([]oidc.Option{oidc.WithHTTPClient(&http.Client{Transport: l})}, opts...)
	v, err := oidc.NewVerifier(context.Background(), iss.Issuer(), audience, opts...)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func TestVerifyTokenFromRunner(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	v := newVerifier(t, iss, &link{})

	requestURL, requestToken := iss.RequestURL(job())
	env := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   requestURL,
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": requestToken,
	}
	action := githubactions.New(githubactions.WithGetenv(func(k string) string { return env[k] }))
	raw, err := action.GetIDToken(context.Background(), audience)
	if err != nil {
		t.Fatal(err)
	}

	got, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := &oidc.Claims{
		Issuer:               iss.Issuer(),
		Subject:              "repo:octo-org/octo-repo:environment:production",
		Audience:             []string{audience},
		Repository:           "octo-org/octo-repo",
		RepositoryID:         74,
		RepositoryOwner:      "octo-org",
		RepositoryOwnerID:    65,
		RepositoryVisibility: "private",
		Actor:                "octocat",
		ActorID:              12,
		RunID:                22259804324,
		RunNumber:            42,
		RunAttempt:           2,
		Workflow:             "deploy",
		WorkflowRef:          "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
		WorkflowSHA:          "c040cae0f0dc81641728557b80f09cfa23b83fe5",
		JobWorkflowRef:       "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
		JobWorkflowSHA:       "c040cae0f0dc81641728557b80f09cfa23b83fe5",
		Ref:                  "refs/heads/main",
		RefType:              "branch",
		RefProtected:         true,
		SHA:                  "c040cae0f0dc81641728557b80f09cfa23b83fe5",
		EventName:            "workflow_dispatch",
		Environment:          "production",
		RunnerEnvironment:    "github-hosted",
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(oidc.Claims{}, "ID", "IssuedAt", "NotBefore", "Expiry")); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if got.ID == "" || got.Expiry.Sub(got.IssuedAt) != 5*time.Minute || got.IssuedAt.Sub(got.NotBefore) != 5*time.Minute {
		t.Errorf("jti %q, iat %v, nbf %v, exp %v: want a jti and the times of a real token", got.ID, got.IssuedAt, got.NotBefore, got.Expiry)
	}
}

// tamper replaces a token's payload, keeping its header and signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(payload), `"octo-org/octo-repo"`, `"evil-org/octo-repo"`, 1)
	if forged == string(payload) {
		t.Fatal("nothing to tamper with")
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	v := newVerifier(t, iss, &link{})
	valid := iss.Mint(job(), audience)
	other := iss.Mint(oidcissuer.JobClaims{Repository: "a/b", RunID: 1, RunAttempt: 1}, audience)

	tests := []struct {
		name  string
		token string
		want  string // in the error
	}{
		{"empty", "", "empty token"},
		{"garbage", "not a token", "malformed"},
		{"three garbage parts", "a.b.c", "malformed"},
		{"expired", iss.Mint(job(), audience, oidcissuer.Expired()), "expired"},
		{"not yet valid", iss.Mint(job(), audience, oidcissuer.NotYetValid()), "not valid before"},
		{"wrong audience", iss.Mint(job(), "https://other.example.com"), "audience"},
		{"audience with a trailing slash", iss.Mint(job(), audience+"/"), "audience"},
		{"wrong issuer", iss.Mint(job(), audience, oidcissuer.IssuedBy("https://token.actions.githubusercontent.com")), "different provider"},
		{"unknown signing key", iss.Mint(job(), audience, oidcissuer.UnknownKey()), "signature"},
		{"tampered payload", tamper(t, valid), "signature"},
		{"signature of another token", valid[:strings.LastIndex(valid, ".")] + other[strings.LastIndex(other, "."):], "signature"},
		{"alg none", iss.Mint(job(), audience, oidcissuer.AlgNone()), "signature algorithm"},
		{"HS256 with the public key", iss.Mint(job(), audience, oidcissuer.HS256WithPublicKey()), "signature algorithm"},
		{"not a workflow run", iss.Mint(oidcissuer.JobClaims{}, audience), "claim repository is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, oidc.ErrInvalidToken) || errors.Is(err, oidc.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrInvalidToken only", err)
			}
			if claims != nil {
				t.Errorf("claims = %+v, want nil", claims)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to mention %q", err, tt.want)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("err = %q contains the token", err)
			}
		})
	}
}

func TestLeeway(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	t0 := time.Now().Truncate(time.Second)
	token := iss.Mint(job(), audience, oidcissuer.IssuedAt(t0)) // nbf t0-5m, exp t0+5m

	tests := []struct {
		name string
		now  time.Time
		want string // in the error; empty: valid
	}{
		{"issued now", t0, ""},
		{"expired within the leeway", t0.Add(5*time.Minute + 59*time.Second), ""},
		{"expired beyond the leeway", t0.Add(5*time.Minute + 61*time.Second), "expired"},
		{"early within the leeway", t0.Add(-5*time.Minute - 59*time.Second), ""},
		{"early beyond the leeway", t0.Add(-5*time.Minute - 61*time.Second), "not valid before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, iss, &link{}, oidc.WithClock(func() time.Time { return tt.now }))
			_, err := v.Verify(context.Background(), token)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Verify: %v, want success", err)
			case tt.want != "" && (!errors.Is(err, oidc.ErrInvalidToken) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Verify: %v, want ErrInvalidToken mentioning %q", err, tt.want)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	l := &link{}
	v := newVerifier(t, iss, l)
	verify := func(token string, wantFetches int) {
		t.Helper()
		if _, err := v.Verify(context.Background(), token); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got := l.count("/.well-known/jwks"); got != wantFetches {
			t.Fatalf("keys fetched %d times, want %d", got, wantFetches)
		}
	}

	before := iss.Mint(job(), audience)
	verify(before, 1)
	verify(iss.Mint(job(), audience), 1) // cached

	iss.Rotate()
	verify(iss.Mint(job(), audience), 2) // unknown kid: fetched again
	verify(before, 2)                    // the old key is still published
}

func TestIssuerUnreachableAtStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fail func(*http.Request) (*http.Response, error)
	}{
		{"connection refused", refuse},
		{"503", answer(http.StatusServiceUnavailable)},
		{"502", answer(http.StatusBadGateway)},
		{"429", answer(http.StatusTooManyRequests)},
	}
	iss := startIssuer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &link{fail: tt.fail}
			v := newVerifier(t, iss, l)
			token := iss.Mint(job(), audience)

			if err := v.Ready(context.Background()); !errors.Is(err, oidc.ErrUnavailable) {
				t.Errorf("Ready while down: %v, want ErrUnavailable", err)
			}
			_, err := v.Verify(context.Background(), token)
			if !errors.Is(err, oidc.ErrUnavailable) || errors.Is(err, oidc.ErrInvalidToken) {
				t.Errorf("Verify while down: %v, want ErrUnavailable only", err)
			}

			l.set(nil)
			if _, err := v.Verify(context.Background(), token); err != nil {
				t.Errorf("Verify once up: %v", err)
			}
			if err := v.Ready(context.Background()); err != nil {
				t.Errorf("Ready once up: %v", err)
			}
		})
	}
}

func TestKeysUnreachable(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	l := &link{}
	v := newVerifier(t, iss, l)
	token := iss.Mint(job(), audience)

	l.set(answer(http.StatusInternalServerError))
	_, err := v.Verify(context.Background(), token)
	if !errors.Is(err, oidc.ErrUnavailable) || errors.Is(err, oidc.ErrInvalidToken) {
		t.Fatalf("Verify with keys unreachable: %v, want ErrUnavailable only", err)
	}

	l.set(nil)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatalf("Verify once up: %v", err)
	}
}

func TestConcurrentVerifyDiscoversOnce(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	l := &link{fail: refuse}
	v := newVerifier(t, iss, l)
	token := iss.Mint(job(), audience)
	l.set(nil)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), token)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// One failed attempt at start, one that succeeded and was kept.
	if got := l.count("/.well-known/openid-configuration"); got != 2 {
		t.Errorf("discovery requests = %d, want 2", got)
	}
}

func TestNewVerifierFails(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	tests := []struct {
		name, issuer, audience, want string
	}{
		{"empty audience", iss.Issuer(), "", "audience is empty"},
		{"relative issuer", "token.actions.githubusercontent.com", audience, "absolute"},
		{"issuer with a query", "https://token.actions.githubusercontent.com?x=1", audience, "without query"},
		{"http off loopback", "http://token.actions.githubusercontent.com", audience, "loopback"},
		{"other scheme", "ftp://token.actions.githubusercontent.com", audience, "https"},
		{"issuer differs from the document's", iss.Issuer() + "/", audience, "did not match"},
		{"no discovery document", iss.Issuer() + "/nowhere", audience, "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &link{}
			v, err := oidc.NewVerifier(context.Background(), tt.issuer, tt.audience, oidc.WithHTTPClient(&http.Client{Transport: l}))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
			if v != nil {
				t.Error("got a verifier along with the error")
			}
			if n := l.count("/.well-known/openid-configuration"); !strings.HasPrefix(tt.issuer, iss.Issuer()) && n > 0 {
				t.Errorf("%d discovery requests made for a bad argument", n)
			}
		})
	}
}
