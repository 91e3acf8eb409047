package web

import (
	"context"
	"net/http"
	"slices"

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

// exceptionStatuses are the values of the exceptions queue's status
// filter: each status, or all.
var exceptionStatuses = []string{store.ExceptionOpen, store.ExceptionResolved, store.ExceptionDismissed, "all"}

func exceptionFilter(r *http.Request) (store.ExceptionFilter, error) {
	q := r.URL.Query()
	f := store.ExceptionFilter{Owner: q.Get("owner"), Reason: q.Get("reason"), PartnerID: q.Get("partner"),
		ObjectKey: q.Get("object_key"), MessageID: q.Get("message_id"), BeforeID: q.Get("before_id")}
	switch st := trimAll(q["status"]); {
	case !q.Has("status"):
		f.Statuses = []string{store.ExceptionOpen}
	case slices.Contains(st, "all"):
	default:
		f.Statuses = st
	}
	before, err := pageBefore(q.Get("before"), q.Get("before_id"), "created_at of the last exception")
	if err != nil {
		return f, err
	}
	f.Before = before
	n, err := limitOf(r)
	if err != nil {
		return f, err
	}
	f.Limit = n
	return f, nil
}

func (s *Server) mountExceptionsAPI() {
	pX := Param{Name: "id", In: "path", Description: "exception ID"}
	s.handle(Route{Method: "GET", Path: "/api/v1/exceptions", Summary: "The exceptions queue, newest first (open ones unless status says otherwise)", Role: store.RoleAuditor, Tag: "exceptions",
		Response: exceptionsOut{},
		Params: []Param{{Name: "status", In: "query", Description: "status (default open)", Enum: exceptionStatuses, List: true, Noun: "exception status"},
			{Name: "owner", In: "query", Description: "who acts on it", Enum: []string{store.OwnerIT, store.OwnerOperations}, Noun: "exception owner"},
			{Name: "reason", In: "query", Description: "reason code, or a prefix ending in '.' (sla.)"}, pPartner,
			{Name: "object_key", In: "query", Description: "business key or ID of the object"},
			{Name: "message_id", In: "query", Description: "message ID"},
			{Name: "before", In: "query", Description: "paging: the created_at of the last one seen (with before_id its id)", Format: "date-time"},
			pBeforeID, pLimit}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			f, err := exceptionFilter(r)
			if err != nil {
				return err
			}
			xs, err := s.st.ListExceptions(r.Context(), f)
			if err != nil {
				return err
			}
			writeJSON(w, 200, exceptionsOut{Exceptions: nonNil(xs)})
			return nil
		})
	s.handle(Route{Method: "GET", Path: "/api/v1/exceptions/{id}", Summary: "An exception with its history", Role: store.RoleAuditor, Tag: "exceptions", Params: []Param{pX},
		Response: exceptionDetailOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			x, err := s.st.GetException(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			evs, err := s.st.ExceptionEvents(r.Context(), x.ID)
			if err != nil {
				return err
			}
			writeJSON(w, 200, exceptionDetailOut{Exception: x, Events: nonNil(evs)})
			return nil
		})
	for _, a := range []struct {
		action, summary string
		errors          []int
	}{
		{"resolve", "Mark the exception resolved (comment required: why)", nil},
		{"dismiss", "Dismiss the exception: nothing to do (comment required: why)", nil},
		{"reopen", "Reopen a resolved or dismissed exception", []int{http.StatusConflict}},
		{"comment", "Add a comment to the exception's history", nil},
		{"retry", "Run the exception's message again (re-process inbound, re-send outbound); the exception stays open", []int{http.StatusServiceUnavailable}},
		{"replay", "Replay the exception's message from its archived bytes; the exception stays open", []int{http.StatusServiceUnavailable}},
	} {
		action := a.action
		s.handle(Route{Method: "POST", Path: "/api/v1/exceptions/{id}/" + action, Summary: a.summary, Role: store.RoleOperator, Tag: "exceptions",
			Params: []Param{pX}, Body: pComment, Response: store.Exception{}, Errors: a.errors},
			func(w http.ResponseWriter, r *http.Request, p *principal) error {
				comment, err := readComment(r)
				if err != nil {
					return err
				}
				x, err := s.ExceptionAction(r.Context(), p, r.PathValue("id"), action, comment)
				if err != nil {
					return err
				}
				writeJSON(w, 200, x)
				return nil
			})
	}
}
