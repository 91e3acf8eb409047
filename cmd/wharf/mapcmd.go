package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/wharfedi/wharf/edi/x12"
	"github.com/wharfedi/wharf/internal/app"
	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/mapping"
	"github.com/wharfedi/wharf/mapping/canonical"
	"github.com/wharfedi/wharf/process"
)

// mapEnv is what map and render share: the configuration, the partner's
// profile and, for render, the store (control numbers, partner IDs).
type mapEnv struct {
	cfg     *config.Config
	profile *mapping.Profile
	partner *config.Partner
}

func loadMapEnv(common *commonFlags, partnerID string) (*mapEnv, error) {
	c, err := common.loadConfig()
	if err != nil {
		return nil, err
	}
	e := &mapEnv{cfg: c}
	if partnerID != "" {
		if err := store.ValidPartnerID(partnerID); err != nil {
			return nil, err
		}
		e.partner = c.Partner(partnerID)
	}
	e.profile, err = app.Profile(partnerID, e.partner)
	return e, err
}

// senderProfiles finds, for wharf map without --partner, the configured
// partner whose x12_ids hold an interchange's sender, and uses its dialect.
func senderProfiles(c *config.Config, stderr io.Writer) func(q, id string) *mapping.Profile {
	cache := map[string]*mapping.Profile{}
	return func(q, id string) *mapping.Profile {
		key := strings.ToUpper(q) + ":" + id
		if p, ok := cache[key]; ok {
			return p
		}
		var prof *mapping.Profile
		for i := range c.Partners {
			pt := &c.Partners[i]
			for _, x := range pt.X12IDs {
				if xi, err := config.ParseX12ID(x); err == nil && xi.Qualifier+":"+xi.ID == key && prof == nil {
					p, err := app.Profile(pt.ID, pt)
					if err != nil {
						fmt.Fprintf(stderr, "wharf map: partner %s: %v\n", pt.ID, err)
						continue
					}
					prof = p
				}
			}
		}
		cache[key] = prof
		return prof
	}
}

// output returns where to write: stdout directly, or, under the reject
// policy, a temporary file copied to stdout only when the file was not
// rejected (a rejected file yields no documents at all).
func output(p *mapping.Profile, stdout io.Writer) (w io.Writer, commit func(ok bool) error, err error) {
	if p.Policy != mapping.Reject {
		bw := bufio.NewWriterSize(stdout, 256<<10)
		return bw, func(bool) error { return bw.Flush() }, nil
	}
	f, err := os.CreateTemp("", "wharf-map-*")
	if err != nil {
		return nil, nil, err
	}
	os.Remove(f.Name())
	bw := bufio.NewWriterSize(f, 256<<10)
	return bw, func(ok bool) error {
		defer f.Close()
		if err := bw.Flush(); err != nil || !ok {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := io.Copy(stdout, f)
		return err
	}, nil
}

func summary(stderr io.Writer, cmd string, out *mapping.Outcome) int {
	if out.Errors == 0 && !out.Rejected {
		return 0
	}
	what := fmt.Sprintf("%d documents mapped, %d quarantined, %d errors", out.Documents, len(out.Quarantined), out.Errors)
	if out.Rejected {
		what = fmt.Sprintf("file rejected (partner policy reject): %d errors, no documents written", out.Errors)
	}
	fmt.Fprintf(stderr, "wharf %s: %s\n", cmd, what)
	return 1
}

// runMap runs "wharf map"; args excludes "map".
func runMap(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, common := newFlags("map", stderr)
	partner := fs.String("partner", "", "partner whose dialect (codes, time zone, policy) applies")
	from := fs.String("from", "x12", "input format: x12, csv:LAYOUT or flat:LAYOUT")
	pos, code, ok := parseCmd(fs, args, 1, stderr)
	if !ok {
		return code
	}
	env, err := loadMapEnv(common, *partner)
	if err != nil {
		fmt.Fprintf(stderr, "wharf map: %v\n", err)
		return 2
	}
	var layout *mapping.RecordLayout
	if *from != "x12" {
		kind, name, _ := strings.Cut(*from, ":")
		if (kind != "csv" && kind != "flat") || name == "" {
			return usageError(stderr, "map", "--from %q: use x12, csv:LAYOUT or flat:LAYOUT", *from)
		}
		if layout, err = app.Layout(env.cfg, name, env.profile); err != nil {
			fmt.Fprintf(stderr, "wharf map: %v\n", err)
			return 2
		}
	}
	in, err := openInput(pos[0], stdin)
	if err != nil {
		fmt.Fprintf(stderr, "wharf map: %v\n", app.UnwrapPath(err))
		return 2
	}
	defer in.Close()
	w, commit, err := output(env.profile, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "wharf map: %v\n", err)
		return 2
	}
	if os.Getenv("GOGC") == "" {
		// The live heap is a few MiB however large the file: trading a
		// little memory for less GC work is most of mapping's speed.
		debug.SetGCPercent(400)
	}
	jl := mapping.NewJSONLines(w)
	o := mapping.Options{Profile: env.profile, Emit: jl.Emit,
		OnError: func(e *mapping.Error) { fmt.Fprintf(stderr, "wharf map: %s: %v\n", pos[0], e) }}
	if *partner == "" {
		o.ProfileFor = senderProfiles(env.cfg, stderr)
	}
	var out *mapping.Outcome
	if layout != nil {
		out, err = mapping.FromRecords(ctx, in, layout, o)
	} else {
		out, err = mapping.FromX12(ctx, in, o)
	}
	if cerr := jl.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		commit(false)
		fmt.Fprintf(stderr, "wharf map: %s: %v\n", pos[0], err)
		return 2
	}
	if err := commit(!out.Rejected); err != nil {
		fmt.Fprintf(stderr, "wharf map: %v\n", err)
		return 2
	}
	return summary(stderr, "map", out)
}

// runRender runs "wharf render"; args excludes "render".
func runRender(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, common := newFlags("render", stderr)
	to := fs.String("to", "", "output format: x12:SET, csv:LAYOUT or flat:LAYOUT")
	partner := fs.String("partner", "", "partner to render for (its dialect, envelope IDs and control numbers)")
	pos, code, ok := parseCmd(fs, args, -1, stderr)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return usageError(stderr, "render", "unexpected argument %q", pos[1])
	}
	if *to == "" {
		return usageError(stderr, "render", "missing --to FORMAT")
	}
	kind, target, _ := strings.Cut(*to, ":")
	if (kind != "x12" && kind != "csv" && kind != "flat") || target == "" {
		return usageError(stderr, "render", "--to %q: use x12:SET (%s), csv:LAYOUT or flat:LAYOUT", *to, strings.Join(mapping.OutboundSets(), ", "))
	}
	name := "-"
	if len(pos) == 1 {
		name = pos[0]
	}
	env, err := loadMapEnv(common, *partner)
	if err != nil {
		fmt.Fprintf(stderr, "wharf render: %v\n", err)
		return 2
	}
	in, err := openInput(name, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "wharf render: %v\n", app.UnwrapPath(err))
		return 2
	}
	defer in.Close()
	w, commit, err := output(env.profile, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "wharf render: %v\n", err)
		return 2
	}
	var r app.Renderer
	var outcome func() *mapping.Outcome
	switch kind {
	case "x12":
		if _, _, ok := mapping.SetFor(target); !ok {
			fmt.Fprintf(stderr, "wharf render: no outbound map for X12 %s (maps exist for %s)\n", target, strings.Join(mapping.OutboundSets(), ", "))
			return 2
		}
		var numbers x12.ControlNumbers = &x12.MemoryControlNumbers{}
		if *partner != "" {
			st, err := app.OpenStore(ctx, env.cfg)
			if err != nil {
				fmt.Fprintf(stderr, "wharf render: %v\n", err)
				return 2
			}
			defer st.Close()
			numbers = process.NewCounters(st)
			if env.profile.Envelope.ReceiverID == "" {
				if sp, err := st.GetPartner(ctx, *partner); err == nil && len(sp.X12IDs) > 0 {
					env.profile.Envelope.ReceiverQual, env.profile.Envelope.ReceiverID = sp.X12IDs[0].Qualifier, sp.X12IDs[0].ID
				}
			}
			if env.profile.Envelope.ReceiverID == "" {
				fmt.Fprintf(stderr, "wharf render: partner %q has no X12 ID: add one (wharf partner add %s --x12-id QUALIFIER:ID) or set partners[].mapping.x12.receiver\n", *partner, *partner)
				return 2
			}
		} else {
			env.profile.Envelope.ReceiverQual, env.profile.Envelope.ReceiverID = "ZZ", "RECEIVER"
			fmt.Fprintln(stderr, "wharf render: no --partner: receiver ZZ:RECEIVER and control numbers from 1 (not for sending: pass --partner to use its IDs and persistent counters)")
		}
		newline := env.partner != nil && env.partner.Mapping != nil && env.partner.Mapping.X12.Newline
		xr, err := mapping.NewX12Renderer(x12.NewWriter(w), mapping.RenderOptions{Profile: env.profile, Set: target, Numbers: numbers, Newline: newline})
		if err != nil {
			fmt.Fprintf(stderr, "wharf render: %v\n", err)
			return 2
		}
		r, outcome = xr, func() *mapping.Outcome { return &xr.Outcome }
	default:
		layout, err := app.Layout(env.cfg, target, env.profile)
		if err == nil && layout.Name() != "" {
			var rr *mapping.RecordRenderer
			if rr, err = mapping.NewRecordRenderer(w, layout, env.profile); err == nil {
				r, outcome = rr, func() *mapping.Outcome { return &rr.Outcome }
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "wharf render: %v\n", err)
			return 2
		}
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 256<<10), 64<<20)
	line, extra := 0, 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		d, err := canonical.Decode(b)
		if err != nil {
			extra++
			fmt.Fprintf(stderr, "wharf render: %s: line %d: %v\n", name, line, err)
			if env.profile.Policy == mapping.Reject {
				outcome().Rejected = true
				break
			}
			continue
		}
		errs, err := r.Render(ctx, d)
		if err != nil {
			commit(false)
			fmt.Fprintf(stderr, "wharf render: %v\n", err)
			return 2
		}
		for _, e := range errs {
			fmt.Fprintf(stderr, "wharf render: %s: line %d: %v\n", name, line, e)
		}
		if outcome().Rejected {
			break
		}
	}
	if err := sc.Err(); err != nil {
		commit(false)
		fmt.Fprintf(stderr, "wharf render: %s: %v\n", name, err)
		return 2
	}
	out := outcome()
	out.Errors += extra
	if !out.Rejected {
		if err := r.Close(); err != nil {
			commit(false)
			var ee *mapping.Error
			if errors.As(err, &ee) {
				fmt.Fprintf(stderr, "wharf render: %v\n", ee)
				return 1
			}
			fmt.Fprintf(stderr, "wharf render: %v\n", err)
			return 1
		}
	}
	if err := commit(!out.Rejected); err != nil {
		fmt.Fprintf(stderr, "wharf render: %v\n", err)
		return 2
	}
	return summary(stderr, "render", out)
}

func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
