package jobs

// AddTask names a task that schedules can run, and AddSchedules adds
// schedules, after New: the application builds the runtime first (the
// archive's commit hook inserts through it) and adds the tasks of the
// stages it builds afterwards. Like Register, both must be called before
// Start or any insert; they panic after.
func (rt *Runtime) AddTask(name string, t Task) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.c != nil {
		panic("jobs: AddTask after the client was created")
	}
	if rt.opts.Tasks == nil {
		rt.opts.Tasks = map[string]Task{}
	}
	rt.opts.Tasks[name] = t
}

// AddSchedules adds schedules; see AddTask.
func (rt *Runtime) AddSchedules(s ...Schedule) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.c != nil {
		panic("jobs: AddSchedules after the client was created")
	}
	rt.opts.Schedules = append(rt.opts.Schedules, s...)
}

// HasTaskScheduled reports whether a schedule already runs the task (a
// schedule in the configuration replaces a stage's default one).
func (rt *Runtime) HasTaskScheduled(task string) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, s := range rt.opts.Schedules {
		if s.Task == task {
			return true
		}
	}
	return false
}
