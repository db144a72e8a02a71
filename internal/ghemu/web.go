package ghemu

import (
	"html/template"
	"net/http"
	"strconv"
)

var issuePage = template.Must(template.New("issue").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Title}} · Issue #{{.Number}} · {{.Repo}}</title></head>
<body>
<h1>{{.Title}} <span>#{{.Number}}</span></h1>
<p>{{.State}}{{with .StateReason}} ({{.}}){{end}} · opened by {{.Author}}{{range .Labels}} · <span class="label">{{.}}</span>{{end}}</p>
<pre>{{.Body}}</pre>
{{range .Comments}}<div id="issuecomment-{{.ID}}"><p><strong>{{.Author}}</strong> commented at {{.CreatedAt.Format "2006-01-02T15:04:05Z07:00"}}</p><pre>{{.Body}}</pre></div>
{{end}}</body>
</html>
`))

// serveIssuePage serves /{owner}/{repo}/issues/{n}, the page html_url links
// to, without authentication: it is a stand-in for github.com.
func (e *Emulator) serveIssuePage(w http.ResponseWriter, r *http.Request, params map[string]string) {
	n, err := strconv.Atoi(params["issue_number"])
	if err != nil {
		http.NotFound(w, r)
		return
	}
	snap, found := e.Issue(params["owner"], params["repo"], n)
	if !found {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := issuePage.Execute(w, struct {
		IssueSnapshot
		Repo string
	}{snap, params["owner"] + "/" + params["repo"]}); err != nil {
		e.logf("ghemu: render issue page: %v", err)
	}
}
