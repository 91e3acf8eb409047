package main

import (
	"context"
	"os"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/jobs"
)

type commonFlags struct {
	config string
	data   string
}

// loadConfig resolves the configuration: defaults, file, environment, flags.
func (f *commonFlags) loadConfig() (*config.Config, error) {
	path := f.config
	if path == "" {
		path = os.Getenv("WHARF_CONFIG")
	}
	c, err := config.Load(path)
	if c == nil {
		return nil, err
	}
	c.ApplyEnv(os.Getenv)
	if f.data != "" {
		c.SetData(f.data)
	}
	// Every problem at once: the file's and the values'.
	if err := config.Join(err, app.Validate(c)); err != nil {
		return nil, err
	}
	return c, nil
}

// openStore resolves the configuration and opens its store (close it).
func (f *commonFlags) openStore(ctx context.Context) (*config.Config, store.Store, error) {
	c, err := f.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	st, err := app.OpenStore(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	return c, st, nil
}

// archiveJobs opens the archive on a job runtime with the archive's
// workers registered, the job tables migrated first: the jobs it inserts
// (deliveries, replays) are run by wharf serve.
func archiveJobs(ctx context.Context, c *config.Config, st store.Store) (*archive.Archive, *jobs.Runtime, error) {
	if err := jobs.Migrate(ctx, st); err != nil {
		return nil, nil, err
	}
	rt := jobs.New(st, jobs.Options{})
	a, err := app.OpenArchive(c, st, rt, app.ArchiveOptions{})
	if err != nil {
		return nil, nil, err
	}
	app.RegisterArchiveJobs(rt, st, a, nil, nil)
	return a, rt, nil
}
