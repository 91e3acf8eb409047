package main

import (
	"os"

	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/config"
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
