package respond

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/gatehouse-ci/gatehouse/internal/approval"
	"github.com/gatehouse-ci/gatehouse/internal/gates"
)

//go:embed templates/*.html
var templates embed.FS

// The pages: each is the layout with its own content.
var (
	signInPage  = parsePage("signin.html")
	formPage    = parsePage("form.html")
	messagePage = parsePage("message.html")
)

func parsePage(name string) *template.Template {
	return template.Must(template.ParseFS(templates, "templates/layout.html", "templates/details.html", "templates/"+name))
}

// view is what a page shows.
type view struct {
	Title  string
	Notice string
	// Login is the signed-in person; Next is where signing out returns.
	Login string
	Next  string
	// Recipient is the address an email link answers as.
	Recipient string
	SignInURL string
	Gate      *gateView
	Form      *formView
}

// gateView is a gate as the page shows it.
type gateView struct {
	Title        string
	Instructions string
	Repository   string
	IssueURL     string
	IssueLabel   string
	RunURL       string
	RunLabel     string
	Deadline     string
	DeadlineISO  string
	Status       string
	Settled      bool
	Standing     string
	DecidedBy    string
	Reason       string
	Responses    []responseView
}

type responseView struct {
	Actor    string
	Decision string
	Via      string
	At       string
	Comment  string
}

var statusText = map[approval.Status]string{
	approval.Pending:   "Waiting for a decision",
	approval.Approved:  "Approved",
	approval.Rejected:  "Rejected",
	approval.TimedOut:  "Timed out",
	approval.Cancelled: "Cancelled",
}

func newGateView(info gates.Info) *gateView {
	st := approval.Status(info.View.Status)
	g := &gateView{
		Title:        info.Title,
		Instructions: info.Instructions,
		Repository:   info.Repository,
		IssueURL:     info.IssueURL,
		RunURL:       info.Run.URL,
		Status:       statusText[st],
		Settled:      st.Settled(),
		DecidedBy:    info.View.DecidedBy,
		Reason:       info.View.Reason,
	}
	if g.Status == "" {
		g.Status = info.View.Status
	}
	if info.IssueNumber > 0 {
		g.IssueLabel = fmt.Sprintf("%s#%d", info.Repository, info.IssueNumber)
	} else {
		g.IssueLabel = info.IssueURL
	}
	g.RunLabel = info.Run.Workflow
	if info.Run.Number > 0 {
		g.RunLabel += fmt.Sprintf(" #%d", info.Run.Number)
	}
	if info.Run.Job != "" {
		g.RunLabel += " · " + info.Run.Job
	}
	if g.RunLabel == "" {
		g.RunLabel = info.Run.URL
	}
	if !info.Deadline.IsZero() {
		g.Deadline = formatTime(info.Deadline)
		g.DeadlineISO = info.Deadline.UTC().Format(time.RFC3339)
	}
	if info.RequireAll {
		g.Standing = fmt.Sprintf("%d %s so far; everyone listed must approve", info.View.Approvals, plural(info.View.Approvals, "approval"))
	} else {
		g.Standing = fmt.Sprintf("%d of %d %s", info.View.Approvals, info.MinimumApprovals, plural(info.MinimumApprovals, "approval"))
	}
	for _, r := range info.View.Responses {
		g.Responses = append(g.Responses, responseView{
			Actor: r.Actor, Decision: pastTense(approval.Decision(r.Decision)), Via: r.Via, At: formatTime(r.At), Comment: r.Comment,
		})
	}
	return g
}

func formatTime(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006 15:04 UTC") }

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// render writes a page with the security headers.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, page *template.Template, status int, v view) {
	h.secure(w)
	var buf bytes.Buffer
	if err := page.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.ErrorContext(r.Context(), "render response page", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
