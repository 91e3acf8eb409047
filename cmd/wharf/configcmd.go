package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/app"
)

func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if args[0] != "check" {
		return usageError(stderr, "config", "unknown subcommand %q", args[0])
	}
	fs, common := newFlags("config check", stderr)
	if _, code, ok := parseCmd(fs, args[1:], 0, stderr); !ok {
		return code
	}
	c, err := common.loadConfig()
	if err != nil {
		return fail(stderr, err)
	}
	if _, err := c.StorePartners(); err != nil {
		return fail(stderr, err)
	}
	src := common.config
	if src == "" {
		src = os.Getenv("WHARF_CONFIG")
	}
	if src == "" {
		src = "(no file: embedded defaults)"
	}
	db := "sqlite " + c.SQLitePath()
	if u, _ := c.DatabaseURL(); u != "" {
		db = "postgres (from " + map[bool]string{true: "url_file", false: "url"}[c.Database.URLFile != ""] + ")"
	}
	fmt.Fprintf(stdout, "config OK: %s\n", src)
	fmt.Fprintf(stdout, "  data:      %s\n  database:  %s\n  archive:   %s\n  http:      %s\n  sftp:      %s\n",
		c.Data, db, c.ArchiveURL(), c.HTTP.Addr, c.SFTP.Addr)
	fmt.Fprintf(stdout, "  partners:  %d\n  schedules: %d\n", len(c.Partners), len(c.Schedules))
	for _, s := range c.Schedules {
		sched, _ := s.Parse()
		tz := s.Timezone
		if tz == "" {
			tz = "UTC"
		}
		loc, _ := time.LoadLocation(tz)
		fmt.Fprintf(stdout, "    %s: %q %s runs %s, next %s\n", s.Name, s.Cron, tz, s.Job, sched.Next(timeNow()).In(loc).Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintf(stdout, "  jobs a schedule can run: %s\n", strings.Join(app.TaskNames(), ", "))
	return 0
}
