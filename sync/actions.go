package sync

import (
	"context"
	"fmt"
	"strings"

	"github.com/wharfedi/wharf/internal/store"
)

// Actions an operator may take on an exception.
var Actions = []string{"resolve", "dismiss", "reopen", "comment", "retry", "replay"}

// Replayer re-runs a message: re-processing an inbound one, re-sending an
// outbound one from its archived bytes (delivery.Replay). It returns what
// it did, for the exception's history.
type Replayer func(ctx context.Context, messageID string) (string, error)

// ActParams is an operator's action on an exception, for Act.
type ActParams struct {
	// ID is the exception's ID.
	ID string
	// Action is one of Actions: resolve, dismiss, reopen, comment, retry,
	// replay.
	Action string
	// Actor names who acts (a user or token name); required.
	Actor string
	// Comment says why; required to resolve or dismiss and to comment.
	Comment string
	// Replay re-runs the exception's message for retry and replay; nil
	// where that is not available (both actions then fail).
	Replay Replayer
}

// Act applies an operator's action to an exception and records it twice:
// in the exception's history and in the audit log. Retry and replay re-run
// the exception's message through p.Replay and leave the exception open, so
// the operator resolves it once the new attempt went through; resolve and
// dismiss need a comment saying why.
func Act(ctx context.Context, st ActStore, p *ActParams) (*store.Exception, error) {
	id, action, actor, comment, replay := p.ID, p.Action, p.Actor, p.Comment, p.Replay
	x, err := st.GetException(ctx, id)
	if err != nil {
		return nil, err
	}
	if actor == "" {
		return nil, store.Invalid("who acts on exception %s must be named", id)
	}
	comment = strings.TrimSpace(comment)
	switch action {
	case "resolve", "dismiss":
		if comment == "" {
			return nil, store.Invalid("say why exception %s is %sed (a comment is required)", id, strings.TrimSuffix(action, "e"))
		}
		status := store.ExceptionResolved
		if action == "dismiss" {
			status = store.ExceptionDismissed
		}
		err = st.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: id, Status: status, Actor: actor, Comment: comment})
	case "reopen":
		err = st.SetExceptionStatus(ctx, &store.SetExceptionStatusParams{ID: id, Status: store.ExceptionOpen, Actor: actor, Comment: comment})
	case "comment":
		if comment == "" {
			return nil, store.Invalid("the comment is empty")
		}
		err = st.AppendExceptionEvent(ctx, &store.ExceptionEvent{ExceptionID: id, Kind: "commented", Actor: actor, Comment: comment})
	case "retry", "replay":
		if x.MessageID == "" {
			return nil, store.Invalid("exception %s (%s) is not about a message: there is nothing to %s; fix the cause and resolve it", id, x.Reason, action)
		}
		if x.Status != store.ExceptionOpen {
			return nil, store.Invalid("exception %s is %s: reopen it first", id, x.Status)
		}
		if replay == nil {
			return nil, fmt.Errorf("%s is not available here", action)
		}
		what, rerr := replay(ctx, x.MessageID)
		if rerr != nil {
			return nil, fmt.Errorf("%s of message %s for exception %s: %w", action, x.MessageID, id, rerr)
		}
		kind := "replayed"
		if action == "retry" {
			kind = "retried"
		}
		note := what
		if comment != "" {
			note = comment + " (" + what + ")"
		}
		err = st.AppendExceptionEvent(ctx, &store.ExceptionEvent{ExceptionID: id, Kind: kind, Actor: actor, Comment: note})
	default:
		return nil, store.Invalid("unknown action %q (use %s)", action, strings.Join(Actions, ", "))
	}
	if err != nil {
		return nil, err
	}
	if err := st.AppendAudit(ctx, &store.AuditEvent{Actor: actor, Kind: "exception." + action,
		Detail: fmt.Sprintf("exception %s (%s, %s %s): %s", id, x.Reason, x.ObjectKind, x.ObjectKey, comment)}); err != nil {
		return nil, err
	}
	return st.GetException(ctx, id)
}
