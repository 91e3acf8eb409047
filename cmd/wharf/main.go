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

const usage = `Wharf: EDI and file-based B2B integration server.

Usage:
  wharf serve [--config FILE] [--data DIR] [--log-format text|json]
  wharf config check [--config FILE]
  wharf partner add ID [--name TEXT] [--x12-id QUALIFIER:ID]... [--sftp-key PUBLIC_KEY_FILE]... [--as2-id AS2NAME] [--as2-cert CERT_PEM_FILE]...
  wharf as2 cert
  wharf partner list [--json]
  wharf x12 validate [--json] FILE...
  wharf x12 ack [--999] FILE
  wharf x12 fmt FILE
  wharf archive put --partner ID [--direction in|out] [--transport NAME] FILE
  wharf archive search [--partner ID] [--since RFC3339] [--until RFC3339] [--key VALUE] [--json]
  wharf archive get ID
  wharf archive events ID [--json]
  wharf archive verify
  wharf replay [--json] ID
  wharf trace [--json] KEY
  wharf exceptions list|show|resolve|dismiss|reopen|comment|retry|replay ...
  wharf token create --role admin|operator|auditor [--name TEXT]
  wharf token list [--json] | wharf token revoke ID
  wharf user add NAME --role admin|operator|auditor [--password-file FILE]
  wharf map [--partner ID] [--from csv:LAYOUT|flat:LAYOUT] FILE|-
  wharf render --to x12:SET|csv:LAYOUT|flat:LAYOUT [--partner ID] [FILE|-]
  wharf demo [--dir DIR] [--serve]
  wharf version

Every command takes --config FILE (or WHARF_CONFIG) and --data DIR (or WHARF_DATA)
and works against the same data folder or database while 'wharf serve' runs.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line; it returns the process exit code:
// 0 success, 1 the command ran and found a problem, 2 usage or I/O error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "config":
		return runConfig(ctx, args[1:], stdout, stderr)
	case "partner":
		return runPartner(ctx, args[1:], stdout, stderr)
	case "as2":
		return runAS2(ctx, args[1:], stdout, stderr)
	case "x12":
		return runX12(ctx, args[1:], stdin, stdout, stderr)
	case "replay":
		return runReplay(ctx, args[1:], stdout, stderr)
	case "trace":
		return runTrace(ctx, args[1:], stdout, stderr)
	case "exceptions":
		return runExceptions(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "archive":
		return runArchive(ctx, args[1:], stdin, stdout, stderr)
	case "token":
		return runToken(ctx, args[1:], stdout, stderr)
	case "user":
		return runUser(ctx, args[1:], stdin, stdout, stderr)
	case "map":
		return runMap(ctx, args[1:], stdin, stdout, stderr)
	case "render":
		return runRender(ctx, args[1:], stdin, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wharf: unknown command %q\n\n%s", args[0], usage)
	return 2
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
// carries the common --config and --data flags.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *commonFlags) {
	fs := flag.NewFlagSet("wharf "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &commonFlags{}
	fs.StringVar(&c.config, "config", "", "configuration file (default $WHARF_CONFIG, or none: embedded defaults)")
	fs.StringVar(&c.data, "data", "", "data folder (default $WHARF_DATA, or the config's data, or ./wharf-data)")
	return fs, c
}

// fail prints one clear line and returns exit code 1.
func fail(stderr io.Writer, err error) int {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ; ")), " ")
	fmt.Fprintf(stderr, "wharf: %s\n", msg)
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
	if want >= 0 && len(pos) > want {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), pos[want])
		return nil, 2, false
	}
	if want >= 0 && len(pos) < want {
		fmt.Fprintf(stderr, "%s: missing argument (see %s -help)\n", fs.Name(), fs.Name())
		return nil, 2, false
	}
	return pos, 0, true
}

// usageErr reports whether err came from flag parsing (exit 2).
func usageErr(err error) bool { return err != nil && !errors.Is(err, flag.ErrHelp) }
