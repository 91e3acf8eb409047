// Command wharf is Wharf's single binary: the server (`wharf serve`) and
// the tools operators, integration engineers and auditors use beside it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line with the command table (clidoc.go); it
// returns the process exit code: 0 success, 1 the command ran and found a
// problem, 2 usage or I/O error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, overview())
		return 2
	}
	if args[0] == "help" || isHelpArg(args[0]) {
		return runHelp(args[1:], stdout, stderr)
	}
	return dispatch(ctx, args, stdin, stdout, stderr)
}

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func versionString() string {
	v, rev, goV := version, "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goV = bi.GoVersion
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = s.Value[:12]
			}
			if s.Key == "vcs.modified" && s.Value == "true" {
				rev += "+dirty"
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	out := "wharf " + v
	if rev != "" {
		out += " (" + rev + ")"
	}
	return out + " " + goV
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseArgs parses flags that may come before or after positional arguments
// (`wharf partner add acme --name ACME`), returning the positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlags returns a flag set that prints usage errors to stderr and
// carries the common --config and --data flags. name is the command's full
// name in the command table ("archive put").
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *commonFlags) {
	fs := flagSet(name, stderr)
	c := &commonFlags{}
	fs.StringVar(&c.config, "config", "", "configuration file (default $WHARF_CONFIG, or none: embedded defaults)")
	fs.StringVar(&c.data, "data", "", "data folder (default $WHARF_DATA, or the config's data, or ./wharf-data)")
	return fs, c
}

// flagSet returns the flag set of command name: a flag error is followed
// by the command's usage line from the command table.
func flagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("wharf "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usageHint(stderr, name) }
	captureFlags(fs, stderr)
	return fs
}

// fail prints one clear line per problem (several for an error that
// joins them, such as every problem of a configuration) and returns exit
// code 1.
func fail(stderr io.Writer, err error) int {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		msg := strings.Join(strings.Fields(strings.ReplaceAll(e.Error(), "\n", " ; ")), " ")
		fmt.Fprintf(stderr, "wharf: %s\n", msg)
	}
	return 1
}

// parseCmd parses a subcommand's flags (before or after its positional
// arguments). With want >= 0 it also requires exactly that many positionals.
// When ok is false the command returns code: 0 after -help, 2 on a usage
// error (already printed).
func parseCmd(fs *flag.FlagSet, args []string, want int, stderr io.Writer) (pos []string, code int, ok bool) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		if usageErr(err) {
			return nil, 2, false
		}
		return nil, 0, false
	}
	name := strings.TrimPrefix(fs.Name(), "wharf ")
	if want >= 0 && len(pos) > want {
		return nil, usageError(stderr, name, "unexpected argument %q", pos[want]), false
	}
	if want >= 0 && len(pos) < want {
		return nil, missingArgs(stderr, name, len(pos)), false
	}
	return pos, 0, true
}

// missingArgs reports that command name got only n of the positional
// arguments its synopsis requires, naming the first one missing; it
// returns 2.
func missingArgs(stderr io.Writer, name string, n int) int {
	what := "argument"
	if c := lookup(name); c != nil {
		if p := c.positionals(); n < len(p) {
			what = strings.TrimSuffix(p[n], "...")
		}
	}
	return usageError(stderr, name, "missing %s", what)
}

// usageErr reports whether err came from flag parsing (exit 2).
func usageErr(err error) bool { return err != nil && !errors.Is(err, flag.ErrHelp) }
