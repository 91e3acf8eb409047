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
// slot of the schedule gets (its run is recorded as the schedule's last).
func (s *Server) RunSchedule(ctx context.Context, p *principal, r *http.Request, name string) (*scheduleRunOut, error) {
	if s.o.Jobs == nil {
		return nil, &httpError{http.StatusServiceUnavailable, "running a schedule needs the job runtime, which is not running in this process", "ask the server that runs 'wharf serve'"}
	}
	i := slices.IndexFunc(s.o.Jobs.Schedules(), func(sc jobs.Schedule) bool { return sc.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("schedule %q: %w", name, store.ErrNotFound)
	}
	sc := s.o.Jobs.Schedules()[i]
	res, err := s.o.Jobs.Insert(ctx, jobs.ScheduledArgs{Schedule: sc.Name, Slot: s.now().Truncate(time.Second)}, nil)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, r, "schedule_run", fmt.Sprintf("schedule %s (%s) run by hand as job %d", sc.Name, sc.Task, res.Job.ID))
	return &scheduleRunOut{Schedule: sc.Name, Task: sc.Task, Job: res.Job.ID}, nil
}

func (s *Server) mountScheduleRun() {
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
