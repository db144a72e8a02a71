package teams

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const webhookSecret = "sig=s3cr3t-signature"

// webhookServer answers posts with status (and Retry-After), recording
// the bodies.
func webhookServer(t *testing.T, status int, retryAfter string) (*httptest.Server, *[]string) {
	t.Helper()
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		bodies = append(bodies, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+r.Header.Get("Content-Type")+" "+string(body))
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		if status == http.StatusFound {
			http.Redirect(w, r, "/elsewhere?"+webhookSecret, status)
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":{"code":"Oops","message":"failed for `+r.URL.String()+`"}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &bodies
}

func TestWebhookPost(t *testing.T) {
	srv, bodies := webhookServer(t, http.StatusAccepted, "")
	w := NewWebhooks(map[string]string{"ops": srv.URL + "/workflows/abc/triggers/manual/paths/invoke?api-version=1&" + webhookSecret}, srv.Client())
	if err := w.Post(t.Context(), "ops", testCard); err != nil {
		t.Fatal(err)
	}
	want := []string{`POST /workflows/abc/triggers/manual/paths/invoke?api-version=1&` + webhookSecret + ` application/json ` +
		`{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":` + string(testCard) + `}]}`}
	if d := cmp.Diff(want, *bodies); d != "" {
		t.Errorf("posted (-want +got):\n%s", d)
	}
}

// A webhook's URL is a secret: errors name the webhook, never the URL.
func TestWebhookErrorsKeepTheURLSecret(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name       string
		status     int    // of the webhook server; 0: use url
		url        string // when status is 0
		retryAfter string
		wantStatus int
		wantWait   time.Duration
	}{
		{name: "400", status: http.StatusBadRequest, wantStatus: 400},
		{name: "429 with Retry-After", status: http.StatusTooManyRequests, retryAfter: "30", wantStatus: 429, wantWait: 30 * time.Second},
		{name: "500", status: http.StatusInternalServerError, wantStatus: 500},
		{name: "redirect not followed", status: http.StatusFound, wantStatus: 302},
		{name: "unreachable", url: closed.URL + "/hook?" + webhookSecret},
		{name: "not a URL", url: "https://exa mple.com/hook?" + webhookSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, client := tt.url, http.DefaultClient
			if tt.status != 0 {
				srv, _ := webhookServer(t, tt.status, tt.retryAfter)
				url, client = srv.URL+"/hook?"+webhookSecret, srv.Client()
			}
			err := NewWebhooks(map[string]string{"ops": url}, client).Post(t.Context(), "ops", testCard)
			if err == nil {
				t.Fatal("Post succeeded")
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "/hook") {
				t.Errorf("error %q shows the webhook's URL", err)
			}
			if !strings.Contains(err.Error(), `webhook "ops"`) {
				t.Errorf("error %q does not name the webhook", err)
			}
			var he *HTTPError
			switch {
			case tt.wantStatus == 0 && errors.As(err, &he):
				t.Errorf("error %v is an HTTPError", err)
			case tt.wantStatus != 0 && (!errors.As(err, &he) || he.Status != tt.wantStatus || he.RetryAfter != tt.wantWait):
				t.Errorf("error %v, want status %d, retry after %v", err, tt.wantStatus, tt.wantWait)
			}
		})
	}
}

func TestWebhookUnknownAndTooLarge(t *testing.T) {
	srv, bodies := webhookServer(t, http.StatusOK, "")
	w := NewWebhooks(map[string]string{"ops": srv.URL}, srv.Client())
	if err := w.Post(t.Context(), "releases", testCard); !errors.Is(err, ErrUnknownWebhook) {
		t.Errorf("Post to an unknown webhook: %v, want ErrUnknownWebhook", err)
	}
	big := []byte(`{"text":"` + strings.Repeat("x", MaxMessageBytes) + `"}`)
	if err := w.Post(t.Context(), "ops", big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Post of a large card: %v, want ErrTooLarge", err)
	}
	if len(*bodies) != 0 {
		t.Errorf("%d posts made", len(*bodies))
	}
	if d := cmp.Diff([]string{"ops"}, w.Names()); d != "" {
		t.Errorf("names (-want +got):\n%s", d)
	}
}
