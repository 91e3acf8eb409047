package web

import (
	"net/http"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/transports"
)

// SFTPSession is a live, authenticated SFTP connection of this instance's
// SFTP server (internal/server).
type SFTPSession = transports.SFTPSession

type sftpSessionsOut struct {
	Sessions []SFTPSession `json:"sessions" doc:"oldest first; this instance's only (each instance serves its own SFTP listener)"`
}

// sftpSessions lists the live sessions, or says why it cannot.
func (s *Server) sftpSessions() ([]SFTPSession, error) {
	if s.o.SFTPSessions == nil {
		return nil, &httpError{http.StatusServiceUnavailable, "the SFTP server does not run in this process", "ask the server that runs 'wharf serve'"}
	}
	return nonNil(s.o.SFTPSessions()), nil
}

func (s *Server) mountSessions() {
	s.handle(Route{Method: "GET", Path: "/api/v1/sftp/sessions", Summary: "Live SFTP sessions of this instance: partner, address, since when, transfers so far", Role: store.RoleAuditor, Tag: "partners",
		Response: sftpSessionsOut{}, Errors: []int{http.StatusServiceUnavailable}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			ss, err := s.sftpSessions()
			if err != nil {
				return err
			}
			writeJSON(w, 200, sftpSessionsOut{Sessions: ss})
			return nil
		})
	s.page("GET /ui/sessions", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		ss, err := s.sftpSessions()
		if err != nil {
			return err
		}
		s.render(w, r, 200, "sessions", &page{Title: "SFTP sessions", Nav: "sessions", Me: p, Data: map[string]any{"Sessions": ss, "Now": s.now(), "CanOperate": p.can(store.RoleOperator)}})
		return nil
	})
}
