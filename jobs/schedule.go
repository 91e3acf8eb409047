package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/robfig/cron/v3"
)

// ScheduledArgs is the job a schedule inserts for one slot (the time it was due).
type ScheduledArgs struct {
	Schedule string    `json:"schedule" river:"unique"`
	Slot     time.Time `json:"slot" river:"unique"`
	// Missed counts the slots this run stands for when it catches up after
	// downtime (0 for an on-time run).
	Missed int `json:"missed,omitempty"`
	// Manual: an operator's "run now", which runs even while the schedule
	// is paused.
	Manual bool `json:"manual,omitempty"`
}

// Kind implements river.JobArgs.
func (ScheduledArgs) Kind() string { return "wharf_scheduled" }

var scheduledUnique = &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}

func (rt *Runtime) schedule(name string) (Schedule, bool) {
	for _, s := range rt.opts.Schedules {
		if s.Name == name {
			return s, true
		}
	}
	return Schedule{}, false
}

func (rt *Runtime) periodicJobs() []*river.PeriodicJob {
	var out []*river.PeriodicJob
	for _, s := range rt.opts.Schedules {
		s := s
		out = append(out, river.NewPeriodicJob(s.Schedule, func() (river.JobArgs, *river.InsertOpts) {
			return ScheduledArgs{Schedule: s.Name, Slot: dueSlot(s.Schedule, rt.opts.Now())}, scheduledUnique
		}, &river.PeriodicJobOpts{ID: "schedule:" + s.Name}))
	}
	return out
}

// dueSlot is the latest time at or before now that the schedule named, within
// the last hour (River fires periodic jobs about on time); else now itself.
func dueSlot(s cron.Schedule, now time.Time) time.Time {
	t := s.Next(now.Add(-time.Hour))
	if t.After(now) {
		return now.UTC().Truncate(time.Second)
	}
	for {
		n := s.Next(t)
		if n.After(now) || !n.After(t) {
			return t.UTC()
		}
		t = n
	}
}

// catchUp runs once at start: a schedule whose next slot after its last
// recorded run is already past missed runs while no server was up. It gets
// ONE job for the latest missed slot, not one per missed slot, unless a job
// for it is still queued from before the downtime (that one will run).
// A schedule seen for the first time records now as its baseline.
func (rt *Runtime) catchUp(ctx context.Context) error {
	return rt.catchUpTo(ctx, rt.opts.Now().UTC(), "missed runs while down")
}

// lateAfter is how long after its slot a run may still be on its way from
// River's periodic enqueuer (on the leader) before a survivor counts the
// slot as missed.
const lateAfter = time.Minute

// catchUpLate runs with every heartbeat on every instance: a slot that has
// neither run nor been queued lateAfter past its time was lost, typically
// because the leader that should have queued it stopped just before it
// (issue 18 #6); it is caught up once, as at start. A run queued by the
// leader and one by a catch-up share their unique key (schedule, slot).
//
// The last recorded run cannot tell a lost slot when a later slot ran
// meanwhile (a minute's cron runs again before the lost slot is a minute
// late): so each heartbeat also asks for every slot of the last
// recentSlots window that is lateAfter past its time, by its unique key.
// Slots that ran or are queued are skipped by the key; a lost one runs.
func (rt *Runtime) catchUpLate(ctx context.Context) error {
	now := rt.opts.Now().UTC()
	if err := rt.catchUpTo(ctx, now.Add(-lateAfter), "missed its slot (the instance that leads the schedules may have stopped)"); err != nil {
		return err
	}
	return rt.catchUpRecent(ctx, now)
}

// recentSlots is how far back, past lateAfter, a heartbeat looks for lost
// slots; every slot is looked at by about 24 heartbeats of every instance.
const recentSlots = 2 * time.Minute

// catchUpUnique, unlike scheduledUnique, also counts finished runs that
// were cancelled or discarded: a slot that ran and failed for good is not
// run again by a catch-up.
var catchUpUnique = &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded,
	rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}

func (rt *Runtime) catchUpRecent(ctx context.Context, now time.Time) error {
	to, from := now.Add(-lateAfter), now.Add(-lateAfter-recentSlots)
	if from.Before(rt.startedAt) {
		from = rt.startedAt // slots before this instance ran are start-up's (catchUp)
	}
	paused, err := rt.st.SchedulePauses(ctx)
	if err != nil {
		return fmt.Errorf("jobs: catch up schedules: %w", err)
	}
	for _, s := range rt.opts.Schedules {
		if _, ok := paused[s.Name]; ok {
			continue // its slots are skipped, not lost
		}
		if _, ok := s.Schedule.(cron.ConstantDelaySchedule); ok {
			continue // @every: its runs have no fixed slots to look for
		}
		for slot := s.Schedule.Next(from); !slot.IsZero() && !slot.After(to); slot = s.Schedule.Next(slot) {
			res, err := rt.Insert(ctx, ScheduledArgs{Schedule: s.Name, Slot: slot.UTC()}, catchUpUnique)
			if err != nil {
				return fmt.Errorf("jobs: catch up schedule %s: %w", s.Name, err)
			}
			if !res.UniqueSkippedAsDuplicate {
				rt.log.Warn("schedule missed its slot (the instance that leads the schedules may have stopped); running it now",
					"schedule", s.Name, "slot", slot.UTC())
			}
		}
	}
	return nil
}

func (rt *Runtime) catchUpTo(ctx context.Context, now time.Time, why string) error {
	paused, err := rt.st.SchedulePauses(ctx)
	if err != nil {
		return fmt.Errorf("jobs: catch up schedules: %w", err)
	}
	for _, s := range rt.opts.Schedules {
		if _, ok := paused[s.Name]; ok {
			continue // paused: its slots are skipped, not missed
		}
		last, ok, err := rt.st.ScheduleLastRun(ctx, s.Name)
		if err != nil {
			return fmt.Errorf("jobs: catch up schedule %s: %w", s.Name, err)
		}
		if !ok {
			if err := rt.st.RecordScheduleRun(ctx, s.Name, now); err != nil {
				return fmt.Errorf("jobs: catch up schedule %s: %w", s.Name, err)
			}
			continue
		}
		first := s.Schedule.Next(last)
		if first.After(now) || first.IsZero() {
			continue
		}
		latest, missed := first, 1
		for missed < 1_000_000 {
			n := s.Schedule.Next(latest)
			if n.After(now) || !n.After(latest) {
				break
			}
			latest, missed = n, missed+1
		}
		pending, err := rt.pendingFor(ctx, s.Name)
		if err != nil {
			return err
		}
		if pending {
			if why == "missed runs while down" { // a later check finds the same queued run: say it once
				rt.log.Info("schedule "+why+"; a queued run is still pending and covers them",
					"schedule", s.Name, "missed", missed, "first_missed", first)
			}
			continue
		}
		if _, err := rt.Insert(ctx, ScheduledArgs{Schedule: s.Name, Slot: latest.UTC(), Missed: missed}, scheduledUnique); err != nil {
			return fmt.Errorf("jobs: catch up schedule %s: %w", s.Name, err)
		}
		rt.log.Warn("schedule "+why+"; running it once now",
			"schedule", s.Name, "missed", missed, "first_missed", first, "last_missed", latest)
	}
	return nil
}

func (rt *Runtime) pendingFor(ctx context.Context, name string) (bool, error) {
	p := river.NewJobListParams().Kinds(ScheduledArgs{}.Kind()).First(1000).States(
		rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStatePending)
	jobs, err := rt.List(ctx, p)
	if err != nil {
		return false, err
	}
	for _, j := range jobs {
		var a ScheduledArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err == nil && a.Schedule == name {
			return true, nil
		}
	}
	return false, nil
}

// scheduledWorker runs a schedule's task; River retries a failed run,
// unless its error is permanent (lifecycle.ErrPermanent): then the run is
// cancelled and the next slot runs as planned.
type scheduledWorker struct {
	river.WorkerDefaults[ScheduledArgs]
	rt *Runtime
}

func (w *scheduledWorker) Work(ctx context.Context, j *river.Job[ScheduledArgs]) error {
	s, ok := w.rt.schedule(j.Args.Schedule)
	if !ok {
		return river.JobCancel(fmt.Errorf("schedule %q is no longer configured", j.Args.Schedule))
	}
	task, ok := w.rt.opts.Tasks[s.Task]
	if !ok {
		return river.JobCancel(fmt.Errorf("schedule %q: job %q is unknown", s.Name, s.Task))
	}
	// A paused schedule's slot is skipped on every instance (an operator's
	// run now still runs); it is recorded as handled, so that resuming
	// does not catch up the slots of the pause.
	if !j.Args.Manual {
		paused, err := w.rt.st.SchedulePauses(ctx)
		if err != nil {
			return err
		}
		if p, ok := paused[s.Name]; ok {
			w.rt.log.Info("scheduled job skipped: the schedule is paused", "schedule", s.Name, "job", s.Task, "slot", j.Args.Slot, "paused_at", p.At, "paused_by", p.By)
			return w.rt.st.RecordScheduleRun(ctx, s.Name, j.Args.Slot)
		}
	}
	// The slot counts as run once its job starts: retries of a failed run
	// are River's business, catch-up must not add another.
	if err := w.rt.st.RecordScheduleRun(ctx, s.Name, j.Args.Slot); err != nil {
		return err
	}
	w.rt.log.Info("scheduled job running", "schedule", s.Name, "job", s.Task, "slot", j.Args.Slot, "missed", j.Args.Missed, "attempt", j.Attempt)
	if err := task(ctx); err != nil {
		return cancelPermanent(fmt.Errorf("schedule %s: job %s: %w", s.Name, s.Task, err))
	}
	return nil
}

// Schedules returns the runtime's schedules (for the console and the API).
func (rt *Runtime) Schedules() []Schedule { return append([]Schedule(nil), rt.opts.Schedules...) }
