package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/store"
)

// Exception actions.
const (
	ActResolve = "resolve"
	ActDismiss = "dismiss"
	ActReopen  = "reopen"
	ActComment = "comment"
	ActRetry   = "retry"
	ActReplay  = "replay"
)

// ExceptionAction applies an operator's action to an exception and records
// it in the exception's history and the audit log. Retry re-runs the step
// that failed on the same message (processing of an inbound one; an
// outbound one is re-sent, as delivery never re-sends a dead letter in
// place); replay re-sends or re-processes from the archived bytes. Both
// leave the exception open: resolve it once the new attempt went through.
func (s *Server) ExceptionAction(ctx context.Context, r *http.Request, p *principal, id, action, comment string) (string, error) {
	x, err := s.st.GetException(ctx, id)
	if err != nil {
		return "", err
	}
	var result string
	switch action {
	case ActResolve, ActDismiss, ActReopen:
		if action == ActDismiss && comment == "" {
			return "", badRequest("dismiss needs a comment saying why nothing has to be done", `send {"comment": "..."}`)
		}
		status := map[string]string{ActResolve: store.ExceptionResolved, ActDismiss: store.ExceptionDismissed, ActReopen: store.ExceptionOpen}[action]
		if err := s.st.SetExceptionStatus(ctx, id, status, p.Actor, comment); err != nil {
			return "", err
		}
		result = "exception " + id + " is " + status
	case ActComment:
		if comment == "" {
			return "", badRequest("the comment is empty", `send {"comment": "..."}`)
		}
		if err := s.st.AppendExceptionEvent(ctx, &store.ExceptionEvent{ExceptionID: id, Kind: "commented", Actor: p.Actor, Comment: comment}); err != nil {
			return "", err
		}
		result = "comment added"
	case ActRetry, ActReplay:
		if x.MessageID == "" {
			return "", badRequest(fmt.Sprintf("exception %s is not about a message, so there is nothing to %s", id, action),
				"fix the cause, then resolve the exception")
		}
		res, err := s.Replay(ctx, x.MessageID)
		if err != nil {
			return "", err
		}
		result = replayDetail(res)
		kind := map[string]string{ActRetry: "retried", ActReplay: "replayed"}[action]
		c := result
		if comment != "" {
			c = comment + " (" + result + ")"
		}
		if err := s.st.AppendExceptionEvent(ctx, &store.ExceptionEvent{ExceptionID: id, Kind: kind, Actor: p.Actor, Comment: c}); err != nil {
			return result, err
		}
	default:
		return "", badRequest(fmt.Sprintf("unknown action %q", action), "use resolve, dismiss, reopen, comment, retry or replay")
	}
	detail := fmt.Sprintf("exception %s (%s): %s", id, x.Reason, result)
	if comment != "" {
		detail += "; comment: " + comment
	}
	s.audit(ctx, p, r, "exception_"+action, detail)
	return result, nil
}

func replayDetail(res *delivery.Replayed) string {
	if res.NewID != "" {
		return fmt.Sprintf("message %s re-sent as %s", res.Original.ID, res.NewID)
	}
	return fmt.Sprintf("processing of %s re-run (job %d)", res.Original.ID, res.Job)
}

func exceptionJSON(x *store.Exception) map[string]any {
	return map[string]any{"id": x.ID, "reason": x.Reason, "detail": x.Detail, "owner": x.Owner, "object_kind": x.ObjectKind,
		"object_key": x.ObjectKey, "partner": x.PartnerID, "message_id": x.MessageID, "status": x.Status,
		"created_at": x.CreatedAt, "updated_at": x.UpdatedAt}
}

func exceptionFilter(r *http.Request) (store.ExceptionFilter, error) {
	q := r.URL.Query()
	f := store.ExceptionFilter{Statuses: trimAll(q["status"]), Owner: q.Get("owner"), Reason: q.Get("reason"), PartnerID: q.Get("partner"),
		ObjectKey: q.Get("object_key"), MessageID: q.Get("message_id"), BeforeID: q.Get("before_id")}
	if len(f.Statuses) == 0 && q.Get("status") == "" && !q.Has("status") {
		f.Statuses = []string{store.ExceptionOpen}
	}
	if v := q.Get("before"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return f, badRequest(fmt.Sprintf("before %q is not an RFC 3339 time", v), "pass the created_at of the last exception of the previous page")
		}
		f.Before = t
	}
	n, err := limitOf(r)
	if err != nil {
		return f, err
	}
	f.Limit = n
	return f, nil
}

func (s *Server) mountExceptionsAPI() {
	pX := Param{"id", "path", "exception ID"}
	s.handle(Route{Method: "GET", Path: "/api/v1/exceptions", Summary: "The exceptions queue, newest first (open ones unless status says otherwise)", Role: store.RoleAuditor, Tag: "exceptions",
		Params: []Param{{"status", "query", "open, resolved, dismissed (comma-separated; default open)"}, {"owner", "query", "it or operations"},
			{"reason", "query", "reason code, or a prefix ending in '.'"}, {"partner", "query", "partner ID"}, {"object_key", "query", "business key or ID of the object"},
			{"message_id", "query", "message ID"}, {"before", "query", "paging: created_at of the last one seen"}, {"before_id", "query", "paging: ID of the last one seen"}, pLimit}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			f, err := exceptionFilter(r)
			if err != nil {
				return err
			}
			xs, err := s.st.ListExceptions(r.Context(), f)
			if err != nil {
				return err
			}
			out := []map[string]any{}
			for _, x := range xs {
				out = append(out, exceptionJSON(x))
			}
			writeJSON(w, 200, map[string]any{"exceptions": out})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/exceptions/{id}", Summary: "An exception with its history", Role: store.RoleAuditor, Tag: "exceptions", Params: []Param{pX}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			x, err := s.st.GetException(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			evs, err := s.st.ExceptionEvents(r.Context(), x.ID)
			if err != nil {
				return err
			}
			hist := []map[string]any{}
			for _, e := range evs {
				hist = append(hist, map[string]any{"at": e.At, "kind": e.Kind, "actor": e.Actor, "comment": e.Comment})
			}
			out := exceptionJSON(x)
			out["events"] = hist
			writeJSON(w, 200, out)
			return nil
		})
	for _, a := range []struct{ action, summary string }{
		{ActResolve, "Mark the exception resolved (optional comment)"},
		{ActDismiss, "Dismiss the exception: nothing to do (comment required)"},
		{ActReopen, "Reopen a resolved or dismissed exception"},
		{ActComment, "Add a comment to the exception's history"},
		{ActRetry, "Run the failed step again for the exception's message"},
		{ActReplay, "Replay the exception's message from its archived bytes"},
	} {
		action := a.action
		s.handle(Route{Method: "POST", Path: "/api/v1/exceptions/{id}/" + action, Summary: a.summary, Role: store.RoleOperator, Tag: "exceptions",
			Params: []Param{pX}, Body: pComment},
			func(w http.ResponseWriter, r *http.Request, p *principal) error {
				comment, err := readComment(r)
				if err != nil {
					return err
				}
				res, err := s.ExceptionAction(r.Context(), r, p, r.PathValue("id"), action, comment)
				if err != nil {
					return err
				}
				x, err := s.st.GetException(r.Context(), r.PathValue("id"))
				if err != nil {
					return err
				}
				out := exceptionJSON(x)
				out["result"] = res
				writeJSON(w, 200, out)
				return nil
			})
	}
}
