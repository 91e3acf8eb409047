package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// runFunc runs a top-level command; args excludes the command's name.
type runFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// command is one `wharf` command or subcommand as `wharf help` and
// docs/cli.md describe it. Flags are not listed here: help asks the command
// itself for its flag set (see commandFlags), so they cannot drift.
type command struct {
	name    string // "serve", "archive put"
	args    string // the synopsis after the name
	summary string // one line: what it does
	doc     string // more, when there is more to say
	exit    string // exit codes, when they differ from the usual ones (exitCodes)
	subs    []*command
	run     runFunc // top-level commands only; nil for help
}

// exitCodes is what every command's exit code means unless its exit says otherwise.
const exitCodes = "0 success; 1 the command ran and failed or found a problem (one line on stderr says what); 2 usage error (unknown command or flag, missing argument)"

// withoutStdin adapts the commands that never read standard input.
func withoutStdin(f func(context.Context, []string, io.Writer, io.Writer) int) runFunc {
	return func(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
		return f(ctx, args, stdout, stderr)
	}
}

// commands is the command table: run dispatches with it, `wharf help` and
// docs/cli.md (TestCLIDocUpToDate) describe it.
var commands []*command

// The table is set in init: its run functions reach back to it (usage
// lines come from it), which a variable's initializer may not.
func init() {
	commands = []*command{
		{name: "serve", args: "[--config FILE] [--data DIR] [--log-format text|json]", run: withoutStdin(runServe),
			summary: "run the server: HTTP, SFTP, delivery, jobs and schedules in one process",
			doc: "HTTP serves the API, the console, AS2, inbound HTTP, health probes and metrics. " +
				"Zero configuration works: data folder ./wharf-data (SQLite database, archive folder, SSH host key), " +
				"HTTP on 127.0.0.1:8080, SFTP on 127.0.0.1:2222. It logs where it listens and where its data lives. " +
				"On a database without API tokens or console users it creates an admin token and prints it once. " +
				"SIGINT or SIGTERM: stop accepting, let running work finish or return to the queue, exit within 30 s.",
			exit: "0 stopped by SIGINT or SIGTERM; 1 cannot start (configuration, a port in use, data folder, database) or a listener failed; 2 usage error"},
		{name: "config", summary: "check the configuration", run: withoutStdin(runConfig), subs: []*command{
			{name: "config check", args: "[--config FILE]",
				summary: "validate the configuration and print what it resolves to",
				doc: "Loads the configuration as 'wharf serve' does (defaults, file, environment, flags), reports every problem it finds " +
					"(each naming file, line and field), and prints the data folder, database, archive, listeners, partners and schedules. " +
					"Every key: docs/config.md.",
				exit: "0 valid; 1 invalid (the message names file, line and field); 2 usage error"},
		}},
		{name: "partner", summary: "trading partners in the database", run: withoutStdin(runPartner), subs: []*command{
			{name: "partner add", args: "ID [--name TEXT] [--x12-id QUALIFIER:ID]... [--sftp-key PUBLIC_KEY_FILE]... [--as2-id AS2NAME] [--as2-cert CERT_PEM_FILE]...",
				summary: "register a trading partner, or update one",
				doc: "X12 IDs, SSH keys and AS2 certificates add to those the partner has. " +
					"The partner logs in to Wharf's SFTP server with user name ID. Partners declared in the config file are written to the database at every start of 'wharf serve'."},
			{name: "partner list", args: "[--json]", summary: "list the partners: ID, name, X12 IDs, SSH keys, source (config or cli)"},
		}},
		{name: "as2", summary: "Wharf's AS2 identity", run: withoutStdin(runAS2), subs: []*command{
			{name: "as2 cert", summary: "print Wharf's AS2 certificate (PEM) to hand to partners",
				doc: "The key and certificate come from the config (as2.cert_file, as2.key_file) or are generated once into the data folder. The AS2 name and expiry go to stderr."},
		}},
		{name: "identity", summary: "what partners pin: the SSH host key and the AS2 certificate", run: withoutStdin(runIdentity), subs: []*command{
			{name: "identity show", args: "[--json]", summary: "print the SSH host key and AS2 certificate, and where each comes from",
				doc: "The SSH host key: its fingerprint and the public key partners pin. The AS2 certificate: subject, serial, expiry, SHA-256. " +
					"Both as the configuration resolves them. Creates nothing: an identity not created yet is reported as such."},
			{name: "identity init", args: "--dir DIR [--as2-id NAME]", summary: "create a cluster's shared identity once in DIR",
				doc: "Creates an SSH host key and an AS2 key and certificate in DIR and prints the configuration that points every instance at them. " +
					"Keeps what DIR already holds: running it again changes nothing. Give DIR to every instance read-only (a secret store, a shared mount); docs/cluster.md.",
				exit: "0 created or already there; 1 cannot write DIR; 2 usage error"},
			{name: "identity rotate", args: "[--activate] [--years N]", summary: "rotate Wharf's own AS2 certificate with an overlap",
				doc: "First prepare the next certificate (printed, to hand to partners; Wharf decrypts with both after a restart), then --activate it " +
					"(Wharf signs with it; the old key still decrypts). " +
					"The next and previous key pairs live beside the current key file (as2_next_*.pem, as2_prev_*.pem), so a cluster's shared identity folder rotates for every instance; restart the instances one at a time after each step. docs/as2.md, Certificates."},
		}},
		{name: "x12", summary: "X12 tools that work on files", run: runX12, subs: []*command{
			{name: "x12 validate", args: "[--json] FILE...",
				summary: "check envelopes and syntax, naming where each problem is",
				doc: "Messages name the file, interchange, group, transaction set, segment position and the problem. " +
					"FILE may be - for standard input. The --json output (JSON Lines) is described in docs/x12.md.",
				exit: "0 every interchange accepted (warnings allowed); 1 anything rejected; 2 usage or I/O error"},
			{name: "x12 ack", args: "[--999] FILE",
				summary: "write the acknowledgments a receiver would send for FILE",
				doc: "Writes to stdout, as X12, a TA1 where the interchange envelope is in error (or ISA14 asks for one) and one 997 (999 with --999) per functional group. " +
					"FILE may be - for standard input. Acknowledgments are never acknowledged: FA groups get no 997.",
				exit: "0 acknowledgments written (also for rejected input; what could not be acknowledged is named on stderr); 2 usage or I/O error, or FILE is not X12"},
			{name: "x12 fmt", args: "FILE",
				summary: "print one segment per line, for people",
				doc:     "FILE may be - for standard input.",
				exit:    "0 printed (parse errors it can step over are reported on stderr); 2 usage or I/O error, or FILE is not X12"},
		}},
		{name: "map", args: "[--partner ID] [--from x12|csv:LAYOUT|flat:LAYOUT] FILE|-", run: runMap,
			summary: "map a partner file to canonical documents (JSON Lines on stdout)",
			doc: "One document per line. X12 unless --from names a CSV or fixed-width layout. Without --partner the partner is found from each interchange's sender. " +
				"Mapping errors go to stderr with partner, document, field and position. Canonical documents and layouts: docs/mapping.md.",
			exit: "0 every document mapped; 1 documents quarantined or the file rejected (partner policy); 2 usage, configuration or I/O error"},
		{name: "render", args: "--to x12:SET|csv:LAYOUT|flat:LAYOUT [--partner ID] [FILE|-]", run: runRender,
			summary: "render canonical JSON Lines as a partner format",
			doc:     "Reads FILE or standard input; writes X12 complete with envelopes, CSV or fixed-width.",
			exit:    "0 every document rendered; 1 documents quarantined or rejected; 2 usage, configuration or I/O error"},
		{name: "archive", summary: "the tamper-evident archive of every file received and sent", run: runArchive, subs: []*command{
			{name: "archive put", args: "--partner ID [--direction in|out] [--transport NAME] [--idempotency-key KEY] [--json] FILE|-",
				summary: "archive a file by hand, then process it as if it had been received",
				doc:     "Processing follows for direction in."},
			{name: "archive search", args: "[--partner ID] [--direction in|out] [--since TIME] [--until TIME] [--key VALUE] [--traffic test|production] [--limit N] [--json]",
				summary: "find archived messages, newest first",
				doc: "--key finds them by any indexed business key or control number. TIME is an RFC 3339 time (2026-01-31T08:00:00Z) or a date (2026-01-31, " +
					"midnight UTC), as the API takes it."},
			{name: "archive get", args: "ID", summary: "write the original bytes of message ID to stdout, byte for byte", doc: idPrefixDoc},
			{name: "archive events", args: "ID [--json]", summary: "the history of message ID, oldest first", doc: idPrefixDoc},
			{name: "archive verify", args: "[--skip-blobs]",
				summary: "re-hash every stored blob and walk the hash chain",
				doc:     "Each blob is checked against its sha256.",
				exit:    "0 intact; 1 not intact (the first broken entry is named) or the check could not run; 2 usage error"},
			{name: "archive purge", args: "(--older-than DURATION [--partner ID] | --expired)",
				summary: "purge old entries: blobs deleted, tombstones kept",
				doc:     "Purges entries older than a duration, or past their retention rule's delete-after. The tombstones stay in the index and the hash chain."},
		}},
		{name: "replay", args: "[--json] ID", run: withoutStdin(runReplay),
			summary: "run a message again: process it, deliver a dead letter again, or re-send it",
			doc: "An inbound message ID is processed again; a dead letter's delivery is run again (the same message); any other outbound message is re-sent " +
				"from its archived bytes as a new message whose parent is ID. Transports Wharf delivers over are sent by the running 'wharf serve'; see docs/transports.md. " +
				"A dead letter replayed while its route is still broken is dead-lettered again under the same exception; once delivered, its exception is resolved. " +
				"The open exceptions about the message record the replay. " + idPrefixDoc},
		{name: "trace", args: "[--json] KEY", run: withoutStdin(runTrace),
			summary: "everything Wharf knows about a business key, in time order",
			doc:     "KEY is a PO, BOL, PRO, shipment ID, invoice number, order number or control number.",
			exit:    "0 found; 1 nothing is known about KEY, or the trace failed; 2 usage error"},
		{name: "events", summary: "the events Wharf publishes to NATS JetStream and RabbitMQ", run: withoutStdin(runEvents),
			doc: "docs/events.md says what is published, how and when.", subs: []*command{
				{name: "events tail", args: "[--type PATTERN]... [--since TIME] [--no-follow] [--json]",
					summary: "print events as they are committed, or each as its CloudEvent with --json",
					doc:     "Each line: time, type, business key, partner, message, event ID."},
				{name: "events replay", args: "--to SUBSCRIPTION --since TIME",
					summary: "publish the events written since TIME to a subscription again",
					doc:     "Filtered like the subscription; its cursor does not move. Consumers deduplicate by event ID; JetStream drops IDs it stored within its duplicate window (2 minutes by default)."},
				{name: "events status", args: "[--json]", summary: "each subscription: published, pending, lag, failures",
					doc: "Lag is the age of the oldest unpublished event; also the instance publishing it and the last error."},
			}},
		{name: "exceptions", summary: "the exceptions queue (docs/sync.md)", run: withoutStdin(runExceptions), subs: []*command{
			{name: "exceptions list", args: "[--status open|resolved|dismissed|all] [--owner it|operations] [--reason R] [--partner ID] [--key KEY] [--json]",
				summary: "list exceptions: ID, age, reason, owner, object, partner, detail"},
			{name: "exceptions show", args: "ID [--json]", summary: "one exception and its history", doc: idPrefixDoc},
			{name: "exceptions digest", summary: "the open exceptions as a report for people"},
			{name: "exceptions resolve", args: "ID --comment TEXT [--as NAME]", summary: "close an exception as resolved", doc: idPrefixDoc},
			{name: "exceptions dismiss", args: "ID --comment TEXT [--as NAME]", summary: "close an exception as not needing action", doc: idPrefixDoc},
			{name: "exceptions reopen", args: "ID [--comment TEXT] [--as NAME]", summary: "open a closed exception again", doc: idPrefixDoc},
			{name: "exceptions comment", args: "ID [--comment TEXT] [--as NAME]", summary: "add a comment to an exception's history", doc: idPrefixDoc},
			{name: "exceptions retry", args: "ID [--comment TEXT] [--as NAME]", summary: "retry what failed (re-send or re-process the message) and record it", doc: idPrefixDoc},
			{name: "exceptions replay", args: "ID [--comment TEXT] [--as NAME]", summary: "replay the exception's message (as 'wharf replay') and record it", doc: idPrefixDoc},
		}},
		{name: "token", summary: "API and console tokens", run: withoutStdin(runToken), subs: []*command{
			{name: "token create", args: "--role admin|operator|auditor [--name TEXT]",
				summary: "print a new bearer token for the API and console (shown only once)",
				doc:     "auditor is read-only but may download originals and run verify; operator also acts on exceptions and replays; admin may do everything."},
			{name: "token list", args: "[--json]", summary: "list tokens: ID, name, role, created, last used, revoked"},
			{name: "token revoke", args: "ID", summary: "revoke a token: the API and console refuse it from then on", doc: idPrefixDoc},
		}},
		{name: "user", summary: "console users (sign-in with a password)", run: runUser, subs: []*command{
			{name: "user add", args: "NAME --role admin|operator|auditor [--password-file FILE]",
				summary: "create a console user, or set its role and password",
				doc:     "The password has at least 12 characters; it is read from --password-file, else from the first line of standard input."},
			{name: "user list", summary: "list console users: name, role, created, updated"},
		}},
		{name: "demo", args: "[--dir DIR] [--serve] [--timeout DURATION] [--orders N] [--latency]", run: withoutStdin(runDemo),
			summary: "play an ERP, a carrier, a 3PL and an invoicing platform against Wharf",
			doc: "The simulated systems go through order, tender, shipment, delivery and invoice over the real transports: " +
				"the ERP drops CSV files into folders, the carrier uses SFTP, the warehouse AS2, the invoicing platform a webhook and HTTP; " +
				"one proof of delivery comes late and one freight charge does not match. " +
				"The server runs on the embedded defaults (HTTP 127.0.0.1:8080, SFTP 127.0.0.1:2222; WHARF_HTTP_ADDR and WHARF_SFTP_ADDR move them) " +
				"with the demo's own configuration under --dir: --config and --data are accepted but not used. " +
				"It prints what happened and where to look in the console.",
			exit: "0 the whole flow completed as expected; 1 a step did not (it is named); 2 usage error"},
		{name: "healthcheck", args: "[--config FILE] [--timeout DURATION]", run: withoutStdin(runHealthcheck),
			summary: "ask the local server's /readyz, for container health checks",
			doc:     "The image has no shell or curl. It reads http.addr (or WHARF_HTTP_ADDR) from the configuration; an address that listens everywhere is asked over 127.0.0.1.",
			exit:    "0 ready; 1 not ready or no answer (stderr says which); 2 usage error"},
		{name: "version", run: func(_ context.Context, _ []string, _ io.Reader, stdout, _ io.Writer) int {
			fmt.Fprintln(stdout, versionString())
			return 0
		}, summary: "print the version, VCS revision and Go version (also: wharf --version)", exit: "0"},
		{name: "help", args: "[COMMAND [SUBCOMMAND] | environment]",
			summary: "list the commands, describe one, or list the environment variables",
			doc:     "A command's description has its synopsis, flags, defaults and exit codes. 'wharf COMMAND -h' (or -help, --help) is the same as 'wharf help COMMAND'.",
			exit:    "0; 2 unknown command"},
	}
}

// idPrefixDoc is the doc of commands that take an ID.
const idPrefixDoc = "ID may be shortened to its beginning as long as no other ID begins the same way; a beginning that several share is refused, naming them."

// isHelpArg reports whether a is a request for help.
func isHelpArg(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// findCommand returns the top-level command called name, or nil.
func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// findSub returns top's subcommand called name, or nil.
func (c *command) findSub(name string) *command {
	for _, s := range c.subs {
		if s.name == c.name+" "+name {
			return s
		}
	}
	return nil
}

// lookup returns the command or subcommand with the full name ("serve",
// "archive put"), or nil.
func lookup(name string) *command {
	top, sub, ok := strings.Cut(name, " ")
	c := findCommand(top)
	if c == nil || !ok {
		return c
	}
	return c.findSub(sub)
}

// dispatch runs a command line whose first word is a command (not help).
func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if args[0] == "--version" {
		args = append([]string{"version"}, args[1:]...)
	}
	top := findCommand(args[0])
	if top == nil || top.run == nil {
		fmt.Fprintf(stderr, "wharf: unknown command %q\n\n%s", args[0], overview())
		return 2
	}
	rest := args[1:]
	if len(top.subs) > 0 {
		// wharf GROUP -h | help [SUB]; wharf GROUP SUB ... -h
		switch {
		case len(rest) == 0:
			return usageError(stderr, top.name, "missing subcommand")
		case isHelpArg(rest[0]) || rest[0] == "help":
			return runHelp(append([]string{top.name}, rest[1:]...), stdout, stderr)
		}
		sub := top.findSub(rest[0])
		if sub == nil {
			return usageError(stderr, top.name, "unknown subcommand %q", rest[0])
		}
		if wantsHelp(rest[1:]) {
			return printHelp(stdout, top, sub)
		}
	} else if wantsHelp(rest) {
		return printHelp(stdout, top, nil)
	}
	return top.run(ctx, rest, stdin, stdout, stderr)
}

// wantsHelp reports whether args hold -h, -help or --help before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelpArg(a) {
			return true
		}
	}
	return false
}

// usageError writes "wharf NAME: MESSAGE" and NAME's usage to stderr
// and returns 2, the exit code of a usage error. name is a command's full
// name ("archive put"); for a group it lists the subcommands.
func usageError(stderr io.Writer, name, format string, args ...any) int {
	fmt.Fprintf(stderr, "wharf %s: %s\n", name, fmt.Sprintf(format, args...))
	usageHint(stderr, name)
	return 2
}

// usageHint writes name's usage lines and where its help is.
func usageHint(w io.Writer, name string) {
	c := lookup(name)
	switch {
	case c == nil:
	case len(c.subs) > 0:
		fmt.Fprintln(w, "usage:")
		for _, s := range c.subs {
			fmt.Fprintf(w, "  %s\n", s.synopsis())
		}
	default:
		fmt.Fprintf(w, "usage: %s\n", c.synopsis())
	}
	fmt.Fprintf(w, "(see 'wharf help %s')\n", name)
}

// positionals names the arguments c's synopsis requires, in order: the
// words outside brackets and parentheses that are not flags or their
// values ("ID", "FILE|-").
func (c *command) positionals() []string {
	var out []string
	depth, flagValue := 0, false
	for _, w := range strings.Fields(c.args) {
		open := strings.Count(w, "[") + strings.Count(w, "(")
		closed := strings.Count(w, "]") + strings.Count(w, ")")
		switch {
		case depth > 0 || open > 0:
		case strings.HasPrefix(w, "--"):
			flagValue = true
			depth += open - closed
			continue
		case flagValue:
		default:
			out = append(out, w)
		}
		flagValue = false
		depth += open - closed
	}
	return out
}

// runHelp runs "wharf help [COMMAND [SUBCOMMAND] | environment]".
func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, overview())
		return 0
	}
	if len(args) == 1 && (args[0] == "environment" || args[0] == "env") {
		fmt.Fprint(stdout, environmentHelp())
		return 0
	}
	top := findCommand(args[0])
	if top == nil || len(args) > 2 {
		fmt.Fprintf(stderr, "wharf help: unknown command %q (see 'wharf help')\n", strings.Join(args, " "))
		return 2
	}
	var sub *command
	if len(args) == 2 {
		if sub = top.findSub(args[1]); sub == nil {
			fmt.Fprintf(stderr, "wharf help: unknown command %q (see 'wharf help %s')\n", strings.Join(args, " "), top.name)
			return 2
		}
	}
	return printHelp(stdout, top, sub)
}

// leaves returns every command that runs (top-level commands without
// subcommands, and subcommands), in table order.
func leaves() []*command {
	var out []*command
	for _, c := range commands {
		if len(c.subs) == 0 {
			out = append(out, c)
		}
		out = append(out, c.subs...)
	}
	return out
}

// synopsis is c's usage line without "usage:".
func (c *command) synopsis() string {
	return strings.TrimSpace("wharf " + c.name + " " + c.args)
}

// overview is `wharf help`: every command with its one-line summary.
func overview() string {
	var b strings.Builder
	b.WriteString("Wharf: EDI and file-based B2B integration server.\n\nUsage: wharf COMMAND [SUBCOMMAND] [ARGUMENTS] [FLAGS]\n\nCommands:\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, c := range leaves() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	b.WriteString(`
Every command but the x12 tools takes --config FILE (or WHARF_CONFIG) and --data DIR
(or WHARF_DATA) and works against the same data folder or database while 'wharf serve' runs.
'wharf help COMMAND' (or 'wharf COMMAND -h') describes a command: synopsis, flags, defaults,
exit codes. 'wharf help environment' lists the environment variables. All of it: docs/cli.md.
`)
	return b.String()
}

// printHelp writes the help of top (sub nil) or of its subcommand sub.
func printHelp(w io.Writer, top, sub *command) int {
	c := top
	if sub != nil {
		c = sub
	}
	if sub == nil && len(top.subs) > 0 {
		fmt.Fprintf(w, "wharf %s: %s\n\nusage:\n", top.name, top.summary)
		for _, s := range top.subs {
			fmt.Fprintf(w, "  %s\n      %s\n", s.synopsis(), s.summary)
		}
		fmt.Fprintf(w, "\n'wharf help %s SUBCOMMAND' describes one: flags, defaults, exit codes.\n", top.name)
		return 0
	}
	fmt.Fprintf(w, "usage: %s\n\n%s", c.synopsis(), wrap(sentence(c.summary), ""))
	if c.doc != "" {
		fmt.Fprintf(w, "\n%s", wrap(c.doc, ""))
	}
	if fs := commandFlags(top, sub); fs != nil && hasFlags(fs) {
		fmt.Fprint(w, "\nflags:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fs.VisitAll(func(f *flag.Flag) {
			name := "--" + f.Name
			if t := flagType(f); t != "bool" {
				name += " " + strings.TrimSuffix(t, ", repeatable")
			}
			usage := f.Usage
			if d := flagDefault(f); d != "" {
				usage += " (default " + d + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
		})
		tw.Flush()
	}
	exit := c.exit
	if exit == "" {
		exit = exitCodes
	}
	fmt.Fprintf(w, "\n%s", wrap("exit codes: "+exit, "  "))
	return 0
}

// wrap breaks s into lines of at most 100 columns (longer words stay
// whole), indenting continuation lines; it ends with a newline.
func wrap(s, indent string) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		switch {
		case i == 0:
		case n+1+len(word) > 100:
			b.WriteString("\n" + indent)
			n = len(indent)
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	b.WriteByte('\n')
	return b.String()
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// flagCapture is the stderr commandFlags gives a command run with -h:
// newFlags and x12Flags record the flag set they make, output is discarded.
type flagCapture struct{ sets []*flag.FlagSet }

func (c *flagCapture) Write(p []byte) (int, error) { return len(p), nil }

// captureFlags records fs when stderr is a flagCapture (see commandFlags).
func captureFlags(fs *flag.FlagSet, stderr io.Writer) {
	if c, ok := stderr.(*flagCapture); ok {
		c.sets = append(c.sets, fs)
	}
}

// commandFlags returns the flag set the command builds, by running it with
// -h: every command defines its flags before parsing, and -h stops it there.
// It returns nil for commands without a flag set (version, help).
func commandFlags(top, sub *command) *flag.FlagSet {
	if top.run == nil || top.name == "version" {
		return nil
	}
	args := []string{"-h"}
	if sub != nil {
		args = []string{strings.TrimPrefix(sub.name, top.name+" "), "-h"}
	}
	capt := &flagCapture{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	top.run(ctx, args, strings.NewReader(""), io.Discard, capt)
	if len(capt.sets) == 0 {
		return nil
	}
	return capt.sets[len(capt.sets)-1]
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// flagType names a flag's type: bool, string, int, duration; "string,
// repeatable" for flags that may be given more than once.
func flagType(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		if _, ok := f.Value.(*stringList); ok {
			return "string, repeatable"
		}
		return "value"
	}
	switch g.Get().(type) {
	case bool:
		return "bool"
	case string:
		return "string"
	case int, int64, uint, uint64:
		return "int"
	case float64:
		return "float"
	case time.Duration:
		return "duration"
	}
	return "value"
}

// flagDefault is f's default as help shows it, or "" when there is none to show.
func flagDefault(f *flag.Flag) string {
	switch {
	case f.DefValue == "", f.DefValue == "[]":
		return ""
	case flagType(f) == "bool" && f.DefValue == "false":
		return ""
	case flagType(f) == "string":
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

// envVar is an environment variable Wharf reads.
type envVar struct{ name, meaning string }

// envVars are the environment variables Wharf itself reads. The WHARF_*
// overrides win over the config file; flags win over them.
var envVars = []envVar{
	{"WHARF_CONFIG", "configuration file when --config is not given; unset: no file, the embedded defaults"},
	{"WHARF_DATA", "data folder (SQLite database, archive folder, SSH host key, AS2 identity); wins over the file's data, --data wins over it; default ./wharf-data"},
	{"WHARF_DATABASE_URL", "a postgres:// URL or a libpq key=value string (host=... dbname=...) selects PostgreSQL (wins over database.url and database.url_file); passwords never appear in logs or errors; unset: SQLite in the data folder"},
	{"WHARF_ARCHIVE_URL", "where archived blobs live: a folder, or s3://BUCKET/PREFIX?endpoint=HOST:PORT for S3 or MinIO (wins over archive.url); default: a folder in the data folder"},
	{"WHARF_S3_ACCESS_KEY", "S3 access key for an s3:// archive URL; with WHARF_S3_SECRET_KEY, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are used"},
	{"WHARF_S3_SECRET_KEY", "S3 secret key for an s3:// archive URL (see WHARF_S3_ACCESS_KEY)"},
	{"WHARF_S3_SECRET_KEY_FILE", "a file holding the S3 secret key, when WHARF_S3_SECRET_KEY is unset (a container secret such as /run/secrets/s3_secret_key)"},
	{"WHARF_HTTP_ADDR", "HTTP listen address, HOST:PORT (wins over http.addr); default 127.0.0.1:8080. wharf demo runs against it too"},
	{"WHARF_SFTP_ADDR", "SFTP listen address, HOST:PORT (wins over sftp.addr); default 127.0.0.1:2222. wharf demo runs against it too"},
	{"WHARF_LOG_FORMAT", "log format, text or json (wins over log.format; serve's --log-format wins over it); default text"},
	{"WHARF_LOG_LEVEL", "log level: debug, info, warn or error (wins over log.level); default info"},
	{"WHARF_AS2_ID", "Wharf's AS2 name, the AS2-To partners send to (wins over as2.id); default wharf"},
	{"WHARF_ARCHIVE_RETENTION", "archive retention rules, winning over archive.retention, e.g. keep=7y,delete=10y;acme:keep=30d,delete=90d"},
	{"WHARF_METRICS_TOKEN", "the bearer token GET /metrics requires (winning over metrics.token_file); unset: /metrics is open"},
	{"WHARF_DEBUG_PPROF", "1: serve Go profiling under /debug/pprof/ on the HTTP listener (never expose that listener)"},
	{"WHARF_DEMO_NATS_URL", "wharf demo: the NATS server (with JetStream) it publishes its milestones to, in the stream wharf-demo; default nats://127.0.0.1:4222; unreachable: the demo runs without events"},
	{"WHARF_DEMO_INVOICING_TOKEN", "wharf demo: the bearer token its invoicing platform expects (its configuration names it in token_env); a random one when unset"},
	{"WHARF_DEMO_WEBHOOK_SECRET", "wharf demo: the webhook HMAC secret (its configuration names it in secret_env); a random one when unset"},
}

// envNotes are the variables Wharf reads that are not its own.
const envNotes = `Besides these, Wharf reads the variables the configuration names (never the secrets themselves):
an SFTP remote's key_env, an S3 transport's access_key_env and secret_key_env, an HTTP
transport's token_env and a webhook's secret_env. S3 credentials fall back to
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. The CLI records USER (or LOGNAME) as the actor
of audit and exception events, and wharf map tunes the garbage collector unless GOGC is set.
`

// environmentHelp is `wharf help environment`.
func environmentHelp() string {
	var b strings.Builder
	b.WriteString("Environment variables Wharf reads (the WHARF_* overrides win over the config file; flags win over them):\n\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, v := range envVars {
		fmt.Fprintf(tw, "  %s\t%s\n", v.name, v.meaning)
	}
	tw.Flush()
	b.WriteString("\n" + envNotes)
	return b.String()
}

// envNames returns the names in envVars, sorted.
func envNames() []string {
	var out []string
	for _, v := range envVars {
		out = append(out, v.name)
	}
	slices.Sort(out)
	return out
}
