package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	_ "time/tzdata" // schedules name IANA time zones; containers may lack zoneinfo

	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/store"
)

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		// Durations in milliseconds, the key saying so ("budget_ms": 30000),
		// not slog's nanoseconds under a bare key.
		opts.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				return slog.Float64(a.Key+"_ms", float64(a.Value.Duration().Microseconds())/1000)
			}
			return a
		}
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("serve", stderr)
	logFormat := fs.String("log-format", "", "log format: text (readable, default) or json")
	if _, code, ok := parseCmd(fs, args, 0, stderr); !ok {
		return code
	}
	c, err := common.loadConfig()
	if err != nil {
		return fail(stderr, err)
	}
	if *logFormat != "" {
		if *logFormat != "text" && *logFormat != "json" {
			fmt.Fprintf(stderr, "wharf serve: --log-format %q: use text or json\n", *logFormat)
			return 2
		}
		c.Log.Format = *logFormat
	}
	a, err := app.New(ctx, c, app.Options{Log: newLogger(stderr, c.Log.Format, c.Log.Level), Version: versionString(),
		FirstToken: func(tok string, t *store.APIToken) { printFirstToken(stdout, tok, t.ID) }})
	if err != nil {
		return fail(stderr, err)
	}
	defer a.Close()
	if err := a.Run(ctx); err != nil {
		return 1
	}
	return 0
}

// printFirstToken shows the admin token serve created on an empty
// database: on stdout, apart from the log, and only this once.
func printFirstToken(stdout io.Writer, tok, id string) {
	fmt.Fprintf(stdout, `
No API token or console user existed, so Wharf created this admin token. It is shown
only now: keep it secret.

    %s

Sign in to the console with it, or send it as "Authorization: Bearer TOKEN" to the API.
Once you have your own ('wharf token create', 'wharf user add'), revoke this one:
'wharf token revoke %s'.

`, tok, id)
}
