package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
)

// scheduleRunOut is a schedule's run started by hand.
type scheduleRunOut struct {
	Schedule string `json:"schedule"`
	Task     string `json:"task"`
	Job      int64  `json:"job" doc:"the job that runs it (GET /api/v1/jobs)"`
}

// RunSchedule starts a schedule's task now, as p, through the same job a
// slot of the schedule gets (its run is recorded as the schedule's last),
// also while the schedule is paused.
func (s *Server) RunSchedule(ctx context.Context, p *principal, r *http.Request, name string) (*scheduleRunOut, error) {
	if s.o.Jobs == nil {
		return nil, &httpError{http.StatusServiceUnavailable, "running a schedule needs the job runtime, which is not running in this process", "ask the server that runs 'wharf serve'"}
	}
	i := slices.IndexFunc(s.o.Jobs.Schedules(), func(sc jobs.Schedule) bool { return sc.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("schedule %q: %w", name, store.ErrNotFound)
	}
	sc := s.o.Jobs.Schedules()[i]
	res, err := s.o.Jobs.Insert(ctx, jobs.ScheduledArgs{Schedule: sc.Name, Slot: s.now().Truncate(time.Second), Manual: true}, nil)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, r, "schedule_run", fmt.Sprintf("schedule %s (%s) run by hand as job %d", sc.Name, sc.Task, res.Job.ID))
	return &scheduleRunOut{Schedule: sc.Name, Task: sc.Task, Job: res.Job.ID}, nil
}

// PauseSchedule pauses (or resumes) a schedule, as p: every instance's
// job runtime skips a paused schedule's slots (package jobs).
func (s *Server) PauseSchedule(ctx context.Context, p *principal, r *http.Request, name string, pause bool) (*ScheduleInfo, error) {
	if s.o.Jobs == nil {
		return nil, &httpError{http.StatusServiceUnavailable, "pausing a schedule needs the job runtime, which is not running in this process", "ask the server that runs 'wharf serve'"}
	}
	if !slices.ContainsFunc(s.o.Jobs.Schedules(), func(sc jobs.Schedule) bool { return sc.Name == name }) {
		return nil, fmt.Errorf("schedule %q: %w", name, store.ErrNotFound)
	}
	if pause {
		if err := s.st.PauseSchedule(ctx, name, p.Actor); err != nil {
			return nil, err
		}
		s.audit(ctx, p, r, "schedule_paused", "schedule "+name+": its slots are skipped until it is resumed")
	} else {
		if err := s.st.ResumeSchedule(ctx, name); err != nil {
			return nil, err
		}
		s.audit(ctx, p, r, "schedule_resumed", "schedule "+name+": its next slot runs")
	}
	ss, err := s.Schedules(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ss {
		if ss[i].Name == name {
			return &ss[i], nil
		}
	}
	return nil, fmt.Errorf("schedule %q: %w", name, store.ErrNotFound)
}

func (s *Server) mountScheduleRun() {
	for _, a := range []struct {
		verb    string
		pause   bool
		summary string
	}{
		{"pause", true, "Pause a schedule: every instance skips its slots (not caught up later) until it is resumed; run now still runs it"},
		{"resume", false, "Resume a paused schedule: its next slot runs"},
	} {
		s.handle(Route{Method: "POST", Path: "/api/v1/schedules/{name}/" + a.verb, Summary: a.summary, Role: store.RoleOperator, Tag: "jobs",
			Params: []Param{{Name: "name", In: "path", Description: "schedule name (GET /api/v1/schedules)"}}, Response: ScheduleInfo{}, Errors: []int{http.StatusServiceUnavailable}},
			func(w http.ResponseWriter, r *http.Request, p *principal) error {
				out, err := s.PauseSchedule(r.Context(), p, r, r.PathValue("name"), a.pause)
				if err != nil {
					return err
				}
				writeJSON(w, 200, out)
				return nil
			})
		s.page("POST /ui/schedules/{name}/"+a.verb, store.RoleOperator, func(w http.ResponseWriter, r *http.Request, p *principal) error {
			name := r.PathValue("name")
			if _, err := s.PauseSchedule(r.Context(), p, r, name, a.pause); err != nil {
				_, msg, hint := statusOf(err)
				s.back(w, r, "/ui/schedules", "Not changed: "+msg+" "+hint, false)
				return nil
			}
			msg := "Schedule " + name + " paused: every instance skips its slots until it is resumed."
			if !a.pause {
				msg = "Schedule " + name + " resumed: its next slot runs."
			}
			s.back(w, r, "/ui/schedules", msg, true)
			return nil
		})
	}
	s.handle(Route{Method: "POST", Path: "/api/v1/schedules/{name}/run", Summary: "Run a schedule's task now, as its next slot would", Role: store.RoleOperator, Tag: "jobs",
		Params: []Param{{Name: "name", In: "path", Description: "schedule name (GET /api/v1/schedules)"}}, Response: scheduleRunOut{}, Errors: []int{http.StatusServiceUnavailable}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			out, err := s.RunSchedule(r.Context(), p, r, r.PathValue("name"))
			if err != nil {
				return err
			}
			writeJSON(w, 200, out)
			return nil
		})
	s.page("POST /ui/schedules/{name}/run", store.RoleOperator, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		out, err := s.RunSchedule(r.Context(), p, r, r.PathValue("name"))
		if err != nil {
			_, msg, hint := statusOf(err)
			s.back(w, r, "/ui/schedules", "Not started: "+msg+" "+hint, false)
			return nil
		}
		s.back(w, r, "/ui/schedules", fmt.Sprintf("Schedule %s started by hand: job %d runs %s.", out.Schedule, out.Job, out.Task), true)
		return nil
	})
}
