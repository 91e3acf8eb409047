package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/wharfedi/wharf/delivery"
	"github.com/wharfedi/wharf/internal/store"
	wsync "github.com/wharfedi/wharf/sync"
)

// ExceptionAction applies an operator's action to an exception through
// wsync.Act (the same rules as 'wharf exceptions'): it records the action in
// the exception's history and the audit log. Retry and replay re-run the
// exception's message (delivery.Replay: re-processing an inbound one,
// re-sending an outbound one) and leave the exception open; resolve and
// dismiss need a comment.
func (s *Server) ExceptionAction(ctx context.Context, p *principal, id, action, comment string) (*store.Exception, error) {
	replay := func(ctx context.Context, messageID string) (string, error) {
		// This exception records the replay through Act; the message's
		// other open exceptions are told by the replay.
		res, err := s.Replay(ctx, messageID, delivery.ReplayOptions{Actor: p.Actor, Except: id})
		if err != nil {
			return "", err
		}
		return res.String(), nil
	}
	return wsync.Act(ctx, s.st, &wsync.ActParams{ID: id, Action: action, Actor: p.Actor, Comment: comment, Replay: replay})
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
		{"resolve", "Mark the exception resolved (comment required: why)"},
		{"dismiss", "Dismiss the exception: nothing to do (comment required: why)"},
		{"reopen", "Reopen a resolved or dismissed exception"},
		{"comment", "Add a comment to the exception's history"},
		{"retry", "Run the exception's message again (re-process inbound, re-send outbound); the exception stays open"},
		{"replay", "Replay the exception's message from its archived bytes; the exception stays open"},
	} {
		action := a.action
		s.handle(Route{Method: "POST", Path: "/api/v1/exceptions/{id}/" + action, Summary: a.summary, Role: store.RoleOperator, Tag: "exceptions",
			Params: []Param{pX}, Body: pComment},
			func(w http.ResponseWriter, r *http.Request, p *principal) error {
				comment, err := readComment(r)
				if err != nil {
					return err
				}
				x, err := s.ExceptionAction(r.Context(), p, r.PathValue("id"), action, comment)
				if err != nil {
					return err
				}
				writeJSON(w, 200, exceptionJSON(x))
				return nil
			})
	}
}
