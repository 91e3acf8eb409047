package web

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/lifecycle"
	"github.com/wharfedi/wharf/internal/store"
	wsync "github.com/wharfedi/wharf/sync"
)

//go:embed templates/*.html assets/*
var embedded embed.FS

type templates struct {
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	},
	"whenp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04") + " UTC"
	},
	"ago": func(t time.Time) string { return ago(time.Since(t)) },
	"until": func(t time.Time) string {
		d := time.Until(t)
		if d < 0 {
			return ago(-d) + " overdue"
		}
		return "in " + strings.TrimSuffix(ago(d), " ago")
	},
	"bytes": humanBytes,
	"pct": func(f float64) string {
		if f == 0 {
			return "0%"
		}
		if f < 0.001 {
			return "<0.1%"
		}
		return fmt.Sprintf("%.1f%%", f*100)
	},
	"short": func(s string) string {
		if len(s) > 13 {
			return s[:8] + "…" + s[len(s)-4:]
		}
		return s
	},
	"sha": func(s string) string {
		if len(s) > 16 {
			return s[:16] + "…"
		}
		return s
	},
	"q":     url.QueryEscape,
	"list":  func(s ...string) []string { return s },
	"add":   func(a, b int64) int64 { return a + b },
	"int64": func(n int) int64 { return int64(n) },
	"addf":  func(a, b float64) float64 { return a + b },
	"mul":   func(a int, b float64) float64 { return float64(a) * b },
	"sub":   func(a, b float64) float64 { return a - b },
	"bar": func(n, max int64, width float64) float64 {
		if max <= 0 {
			return 0
		}
		return float64(n) / float64(max) * width
	},
	"statusClass": statusClass,
	"detail":      eventDetail,
	// what splits a timeline line's "SUBJECT: kind" into its two parts.
	"what": func(w string) [2]string {
		if i := strings.LastIndex(w, ": "); i >= 0 {
			return [2]string{w[:i], w[i+2:]}
		}
		return [2]string{"", w}
	},
}

// eventDetail makes an event's detail readable: a JSON object (the
// archive's "received" record) becomes "key value · key value".
func eventDetail(d string) string {
	if !strings.HasPrefix(d, "{") {
		return d
	}
	var m map[string]any
	if json.Unmarshal([]byte(d), &m) != nil {
		return d
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "blob" { // where the bytes live: internal, and in the API
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		v := fmt.Sprint(m[k])
		if f, ok := m[k].(float64); ok {
			v = fmt.Sprintf("%.0f", f)
		}
		if k == "sha256" && len(v) > 16 {
			v = v[:16] + "…"
		}
		parts = append(parts, strings.ReplaceAll(k, "_", " ")+" "+v)
	}
	return strings.Join(parts, " · ")
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func humanBytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// statusClass colours a status or event kind: bad (red), warn (amber),
// ok (green).
func statusClass(v any) string {
	s := fmt.Sprint(v) // a string, a lifecycle.Status or a lifecycle.EventKind
	if c, ok := messageClass[s]; ok {
		return c
	}
	switch s { // exception, job and certificate states
	case "expired", "open":
		return "bad"
	case "expiring", "retryable":
		return "warn"
	case "ok", "resolved", "completed":
		return "ok"
	}
	return ""
}

// messageClass colours message statuses and event kinds (lifecycle);
// those not listed stay neutral.
var messageClass = map[string]string{
	string(lifecycle.StatusRejected):     "bad",
	string(lifecycle.StatusDeadLetter):   "bad", // and EventDeadLetter
	string(lifecycle.StatusFailed):       "bad", // and EventFailed
	string(lifecycle.EventAttemptFailed): "bad",
	string(lifecycle.EventException):     "bad",
	string(lifecycle.EventMDNOverdue):    "bad",

	string(lifecycle.StatusReceived):     "warn", // and EventReceived
	string(lifecycle.StatusWaiting):      "warn",
	string(lifecycle.StatusUnrecognized): "warn",
	string(lifecycle.StatusAwaitingMDN):  "warn", // and EventAwaitingMDN
	string(lifecycle.EventReplayed):      "warn",
	string(lifecycle.EventReplay):        "warn",
	string(lifecycle.EventAwaitingAck):   "warn",
	string(lifecycle.EventDuplicate):     "warn",
	string(lifecycle.EventMDNLate):       "warn",

	string(lifecycle.StatusProcessed):   "ok",
	string(lifecycle.StatusDelivered):   "ok", // and EventDelivered
	string(lifecycle.EventAcknowledged): "ok",
	string(lifecycle.EventMapped):       "ok",
	string(lifecycle.EventReconciled):   "ok",
}

func parseTemplates() (*templates, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(embedded, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	names, err := fs.Glob(embedded, "templates/*.html")
	if err != nil {
		return nil, err
	}
	t := &templates{pages: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		c, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := c.ParseFS(embedded, n); err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		t.pages[name] = c
	}
	return t, nil
}

// page is what every console page template receives.
type page struct {
	Title   string
	Nav     string
	Me      *principal
	CSRF    string
	Flash   string
	FlashOK bool
	Data    any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, pg *page) {
	t, ok := s.tmpl.pages[name]
	if !ok {
		http.Error(w, "no template "+name, 500)
		return
	}
	if pg.Me != nil && pg.Me.Session != nil {
		pg.CSRF = pg.Me.Session.CSRF
	}
	if q := r.URL.Query(); pg.Flash == "" && q.Get("flash") != "" {
		// Only a message this server put in a redirect (signed) is shown.
		if hmac.Equal([]byte(q.Get("fs")), []byte(s.flashSig(q.Get("flash"), q.Get("ok") == "1"))) {
			pg.Flash, pg.FlashOK = q.Get("flash"), q.Get("ok") == "1"
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", pg); err != nil {
		s.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "the page could not be rendered: "+err.Error(), 500)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// consoleHandler handles a signed-in console request.
type consoleHandler func(w http.ResponseWriter, r *http.Request, p *principal) error

// page mounts a console route needing role (and, for POST, a valid CSRF token).
func (s *Server) page(pattern, role string, h consoleHandler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p, err := s.sessionPrincipal(r)
		if err != nil {
			if !errors.Is(err, errUnauthenticated) {
				s.log.Error("console: session", "err", err)
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/ui/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.render(w, r, http.StatusUnauthorized, "signin", &page{Title: "Sign in", Flash: "Your session ended: sign in again."})
			return
		}
		if r.Method == http.MethodPost && !validCSRF(p, r.PostFormValue("csrf")) {
			s.audit(r.Context(), p, r, "console_csrf_refused", r.Method+" "+r.URL.Path)
			s.render(w, r, http.StatusForbidden, "error", &page{Title: "Refused", Me: p,
				Data: "The form was refused: its security token is missing or stale. Go back, reload the page and try again."})
			return
		}
		if !p.can(role) {
			s.audit(r.Context(), p, r, "console_denied", r.Method+" "+r.URL.Path)
			s.render(w, r, http.StatusForbidden, "error", &page{Title: "Not allowed", Me: p,
				Data: fmt.Sprintf("Your role (%s) may not do this; it needs %s. Ask an admin.", p.Role, role)})
			return
		}
		if err := h(w, r, p); err != nil {
			code, msg, hint := statusOf(err)
			if code >= 500 {
				s.log.Error("console", "path", r.URL.Path, "err", err)
			}
			if hint != "" {
				msg += " — " + hint
			}
			s.render(w, r, code, "error", &page{Title: "Problem", Me: p, Data: msg})
		}
	})
}

// back redirects after a POST with a message for the next page, signed
// so that only this server's messages are shown (render).
func (s *Server) back(w http.ResponseWriter, r *http.Request, to, flash string, ok bool) {
	u := to
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	u += sep + "flash=" + url.QueryEscape(flash)
	if ok {
		u += "&ok=1"
	}
	u += "&fs=" + s.flashSig(flash, ok)
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// flashSig is the signature of a redirect's message.
func (s *Server) flashSig(flash string, ok bool) string {
	m := hmac.New(sha256.New, s.flashKey)
	fmt.Fprintf(m, "%t\x00%s", ok, flash)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

const preCSRFCookie = "wharf_signin"

func (s *Server) mountConsole() {
	assets, _ := fs.Sub(embedded, "assets")
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assets)))

	s.mux.HandleFunc("GET /ui/signin", func(w http.ResponseWriter, r *http.Request) {
		tok := randText(18, func(b []byte) string { return fmt.Sprintf("%x", b) })
		http.SetCookie(w, &http.Cookie{Name: preCSRFCookie, Value: tok, Path: "/ui/signin", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		s.render(w, r, 200, "signin", &page{Title: "Sign in", CSRF: tok, Data: r.URL.Query().Get("next")})
	})
	s.mux.HandleFunc("POST /ui/signin", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(preCSRFCookie)
		if err != nil || c.Value == "" || c.Value != r.PostFormValue("csrf") {
			s.back(w, r, "/ui/signin", "The sign-in form expired; please try again.", false)
			return
		}
		if locked, _ := s.o.Guard.Locked(r.RemoteAddr); locked {
			s.audit(r.Context(), &principal{Actor: strings.TrimSpace(r.PostFormValue("user"))}, r, "console_login_refused", "address locked out after repeated failures")
			s.back(w, r, "/ui/signin", "Sign-in refused: too many failed attempts from your address. Try again in a few minutes.", false)
			return
		}
		var p *principal
		how := ""
		if tok := strings.TrimSpace(r.PostFormValue("token")); tok != "" {
			p, err = s.tokenPrincipal(r.Context(), tok)
			how = "token"
			if err == nil && p.Partner != "" {
				// The console shows every partner's data: a partner
				// token answers the API only.
				s.audit(r.Context(), p, r, "console_login_refused", "partner token of "+p.Partner+": the console is for operators")
				s.back(w, r, "/ui/signin", "Sign-in refused: a partner token reaches the API only, not the console.", false)
				return
			}
		} else {
			p, err = s.passwordPrincipal(r.Context(), strings.TrimSpace(r.PostFormValue("user")), r.PostFormValue("password"))
			how = "password"
		}
		if err != nil {
			who := &principal{Actor: strings.TrimSpace(r.PostFormValue("user"))}
			if errors.Is(err, errUnauthenticated) {
				s.authFailed(r.Context(), who, r, "console_login_refused", "by "+how)
			} else { // the server could not check (database down): not the client's failure
				s.audit(r.Context(), who, r, "console_login_refused", "by "+how+": "+err.Error())
			}
			msg := "Sign-in refused: unknown or revoked token."
			switch {
			case !errors.Is(err, errUnauthenticated):
				msg = "Sign-in could not be checked (a server-side problem, logged); try again in a minute."
				s.log.Error("console: sign-in could not be checked", "remote", r.RemoteAddr, "err", err)
			case how == "password":
				msg = "Sign-in refused: wrong user name or password."
			}
			s.back(w, r, "/ui/signin", msg, false)
			return
		}
		if err := s.startSession(w, r, p); err != nil {
			s.log.Error("console: start session", "err", err)
			s.back(w, r, "/ui/signin", "Sign-in failed on the server: "+err.Error(), false)
			return
		}
		s.audit(r.Context(), p, r, "console_login", "by "+how+", role "+p.Role)
		next := r.PostFormValue("next")
		if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
			next = "/"
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
	s.page("POST /ui/signout", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		s.audit(r.Context(), p, r, "console_logout", "")
		s.endSession(w, r)
		s.back(w, r, "/ui/signin", "Signed out.", true)
		return nil
	})
	s.page("GET /{$}", store.RoleAuditor, s.overviewPage)
	s.page("GET /ui/stuck", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		docs, err := s.Stuck(r.Context())
		if err != nil {
			return err
		}
		groups := map[string][]StuckDoc{}
		for _, d := range docs {
			groups[d.Stage] = append(groups[d.Stage], d)
		}
		type stage struct {
			Name string
			Docs []StuckDoc
		}
		var stages []stage
		for _, n := range []string{StageNotMapped, StageNotDelivered, StageNotAcked} {
			stages = append(stages, stage{n, groups[n]})
		}
		s.render(w, r, 200, "stuck", &page{Title: "Stuck documents", Nav: "stuck", Me: p, Data: map[string]any{"Stages": stages, "After": s.o.StuckAfter, "Total": len(docs)}})
		return nil
	})
	s.page("GET /ui/exceptions", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		f, err := exceptionFilter(r)
		if err != nil {
			return err
		}
		xs, err := s.st.ListExceptions(r.Context(), f)
		if err != nil {
			return err
		}
		status := r.URL.Query().Get("status")
		if status == "" {
			status = "open"
		}
		s.render(w, r, 200, "exceptions", &page{Title: "Exceptions", Nav: "exceptions", Me: p, Data: map[string]any{"List": xs, "Status": status, "Q": r.URL.Query()}})
		return nil
	})
	s.page("GET /ui/exceptions/{id}", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		x, err := s.st.GetException(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		evs, err := s.st.ExceptionEvents(r.Context(), x.ID)
		if err != nil {
			return err
		}
		var msg *store.Message
		if x.MessageID != "" {
			msg, _ = s.st.GetMessage(r.Context(), x.MessageID)
		}
		s.render(w, r, 200, "exception", &page{Title: "Exception " + x.Reason, Nav: "exceptions", Me: p,
			Data: map[string]any{"X": x, "Events": evs, "Msg": msg, "CanAct": p.can(store.RoleOperator)}})
		return nil
	})
	s.page("POST /ui/exceptions/{id}/{action}", store.RoleOperator, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id := r.PathValue("id")
		action := r.PathValue("action")
		x, err := s.ExceptionAction(r.Context(), p, id, action, strings.TrimSpace(r.PostFormValue("comment")))
		if err != nil {
			_, msg, hint := statusOf(err)
			if hint != "" {
				msg += " — " + hint
			}
			s.back(w, r, "/ui/exceptions/"+url.PathEscape(id), msg, false)
			return nil
		}
		msg := fmt.Sprintf("Done: %s (the exception is %s).", action, x.Status)
		if action == "retry" || action == "replay" {
			msg += " Resolve it once the new attempt went through."
		}
		s.back(w, r, "/ui/exceptions/"+url.PathEscape(id), msg, true)
		return nil
	})
	s.page("GET /ui/messages", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		f, err := messageFilter(r)
		if err != nil {
			return err
		}
		es, err := s.o.Archive.Search(r.Context(), f)
		if err != nil {
			return err
		}
		var out []*messageOut
		for _, e := range es {
			out = append(out, entryJSON(e))
		}
		if err := s.markTest(r.Context(), f, out); err != nil {
			return err
		}
		ps, _ := s.st.ListPartners(r.Context())
		data := archivePageData(r, f, es)
		data["List"], data["Partners"], data["Transports"] = out, ps, s.recentTransports(r.Context())
		s.render(w, r, 200, "messages", &page{Title: "Archive", Nav: "messages", Me: p, Data: data})
		return nil
	})
	s.page("GET /ui/messages/{id}", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		d, err := s.Detail(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		xs, _ := s.st.ListExceptions(r.Context(), store.ExceptionFilter{MessageID: d.Entry.ID, Limit: 50})
		var children []*store.Message
		for _, ev := range d.Events {
			if ev.Kind == lifecycle.EventReplayed && strings.HasPrefix(ev.Detail, "re-sent as message ") {
				if m, err := s.st.GetMessage(r.Context(), strings.TrimPrefix(ev.Detail, "re-sent as message ")); err == nil {
					children = append(children, m)
				}
			}
		}
		var stuck *StuckDoc
		if docs, err := s.Stuck(r.Context()); err == nil {
			for i := range docs {
				if docs[i].MessageID == d.Entry.ID {
					stuck = &docs[i]
					break
				}
			}
		}
		rej := s.rejection(r.Context(), d, xs)
		var pv *Preview
		if rej == nil { // a rejected file's content is shown with its reasons already
			if pv, err = s.preview(r.Context(), d); err != nil {
				s.log.Warn("console: no preview", "message", d.Entry.ID, "err", err)
			}
		}
		s.render(w, r, 200, "message", &page{Title: "Message " + d.Entry.ID, Nav: "messages", Me: p,
			Data: map[string]any{"E": testEntry(d), "Keys": d.Keys, "Events": d.Events, "Exceptions": xs, "Replays": children,
				"Rejection": rej, "Preview": pv,
				"Stuck": stuck, "CanReplay": p.can(store.RoleOperator)}})
		return nil
	})
	s.page("GET /ui/messages/{id}/content", store.RoleAuditor, s.download)
	s.page("POST /ui/messages/{id}/replay", store.RoleOperator, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		id := r.PathValue("id")
		res, err := s.Replay(r.Context(), id, delivery.ReplayOptions{Actor: p.Actor})
		if err != nil {
			_, msg, hint := statusOf(err)
			s.back(w, r, "/ui/messages/"+url.PathEscape(id), "Replay failed: "+msg+" "+hint, false)
			return nil
		}
		s.audit(r.Context(), p, r, "replay", res.String())
		if res.NewID != "" {
			s.back(w, r, "/ui/messages/"+url.PathEscape(res.NewID), "Replayed: "+res.String()+". This is the new attempt.", true)
			return nil
		}
		s.back(w, r, "/ui/messages/"+url.PathEscape(id), "Replayed: "+res.String()+".", true)
		return nil
	})
	s.page("POST /ui/verify", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		rep, err := s.Verify(r, p, r.PostFormValue("skip_blobs") == "on")
		if err != nil {
			return err
		}
		s.render(w, r, 200, "verify", &page{Title: "Archive verify", Nav: "messages", Me: p, Data: verifyJSON(rep)})
		return nil
	})
	s.page("GET /ui/trace", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		key := strings.TrimSpace(r.URL.Query().Get("key"))
		var tr *wsync.TraceResult
		if key != "" {
			var err error
			if tr, err = s.Trace(r.Context(), key); err != nil {
				return err
			}
		}
		s.render(w, r, 200, "trace", &page{Title: "Trace", Nav: "trace", Me: p, Data: map[string]any{"Key": key, "T": tr}})
		return nil
	})
	s.page("GET /ui/schedules", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		ss, err := s.Schedules(r.Context())
		if err != nil {
			return err
		}
		var js []JobInfo
		var jobsErr string
		if s.o.Jobs != nil {
			if js, err = s.Jobs(r.Context(), nil, 50); err != nil {
				jobsErr = err.Error()
			}
		}
		s.render(w, r, 200, "schedules", &page{Title: "Schedules and jobs", Nav: "schedules", Me: p, Data: map[string]any{"Schedules": ss, "Jobs": js, "JobsErr": jobsErr}})
		return nil
	})
}

// overviewRow is one partner and transport's bars on the overview.
type overviewRow struct {
	Throughput
	Max int64
}

func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	ws, err := s.Overview(r.Context())
	if err != nil {
		return err
	}
	type win struct {
		Window
		Rows []overviewRow
	}
	var wins []win
	for _, w := range ws {
		var max int64
		for _, g := range w.Groups {
			if n := g.In + g.Out; n > max {
				max = n
			}
		}
		rows := []overviewRow{}
		for _, g := range w.Groups {
			rows = append(rows, overviewRow{g, max})
		}
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].In+rows[i].Out > rows[j].In+rows[j].Out })
		wins = append(wins, win{w, rows})
	}
	stuck, err := s.Stuck(r.Context())
	if err != nil {
		return err
	}
	open, err := s.st.ListExceptions(r.Context(), store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, Limit: 1000})
	if err != nil {
		return err
	}
	certs, err := s.Certificates(r.Context())
	if err != nil {
		return err
	}
	var certWarn []Cert
	for _, c := range certs {
		if c.State != "ok" {
			certWarn = append(certWarn, c)
		}
	}
	sla, byOwner := 0, map[string]int{}
	for _, x := range open {
		if strings.HasPrefix(x.Reason, "sla.") {
			sla++
		}
		byOwner[x.Owner]++
	}
	days, err := s.Daily(r.Context())
	if err != nil {
		return err
	}
	var dayMax int64
	for _, d := range days {
		dayMax = max(dayMax, d.Messages)
	}
	var sinks []EventSink
	if s.o.EventSinks != nil {
		if sinks, err = s.o.EventSinks(r.Context()); err != nil {
			return err
		}
	}
	s.render(w, r, 200, "overview", &page{Title: "Overview", Nav: "overview", Me: p,
		Data: map[string]any{"Windows": wins, "Stuck": len(stuck), "Open": len(open), "OpenIT": byOwner[store.OwnerIT],
			"OpenOps": byOwner[store.OwnerOperations], "SLA": sla, "CertWarn": certWarn, "Days": days, "DayMax": dayMax, "Sinks": sinks}})
	return nil
}
