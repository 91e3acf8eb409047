package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// Traffic per partner and hour, over the last 24 hours or 7 days: the
// messages received and sent, the errors among them and the latency of
// those that reached their outcome (store.HourlyStats, one grouped
// query), as the API's numbers and the console's server-rendered SVG
// charts.

// HourPoint is one partner's traffic of one hour (UTC).
type HourPoint struct {
	Hour         time.Time `json:"hour" doc:"the hour's start, UTC"`
	In           int64     `json:"in" doc:"messages received in the hour"`
	Out          int64     `json:"out" doc:"messages Wharf sent (archived to send) in the hour"`
	Errors       int64     `json:"errors" doc:"of those, rejected, dead-lettered or failed (now)"`
	Settled      int64     `json:"settled" doc:"of those, the ones that reached their outcome (mapped, delivered, dead letter, failed)"`
	LatencyAvgMs float64   `json:"latency_avg_ms" doc:"mean time from received to outcome of the settled ones; 0 when none"`
	LatencyMaxMs float64   `json:"latency_max_ms"`
}

// PartnerTraffic is one partner's hours, oldest first, and their totals.
type PartnerTraffic struct {
	Partner string      `json:"partner"`
	In      int64       `json:"in"`
	Out     int64       `json:"out"`
	Errors  int64       `json:"errors"`
	Hours   []HourPoint `json:"hours" doc:"every hour of the window, oldest first, empty ones included"`
}

type hourlyOut struct {
	Window   string           `json:"window" enum:"24h,7d"`
	Since    time.Time        `json:"since" doc:"the first hour's start"`
	Partners []PartnerTraffic `json:"partners" doc:"partners with traffic in the window, most messages first"`
}

var windows = map[string]int{"24h": 24, "7d": 7 * 24}

// Hourly returns each partner's traffic per hour over the window (24h or
// 7d), the current hour last.
func (s *Server) Hourly(ctx context.Context, window, partner string) (*hourlyOut, error) {
	if window == "" {
		window = "24h"
	}
	hours, ok := windows[window]
	if !ok {
		return nil, badRequest(fmt.Sprintf("window %q is not a window", window), "use 24h or 7d")
	}
	since := s.now().Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
	stats, err := s.st.HourlyStats(ctx, since)
	if err != nil {
		return nil, err
	}
	by := map[string]*PartnerTraffic{}
	var order []*PartnerTraffic
	for _, h := range stats {
		if partner != "" && h.PartnerID != partner {
			continue
		}
		i := int(h.Hour.Sub(since) / time.Hour)
		if i < 0 || i >= hours {
			continue // a clock between the store's and ours
		}
		p := by[h.PartnerID]
		if p == nil {
			p = &PartnerTraffic{Partner: h.PartnerID, Hours: make([]HourPoint, hours)}
			for j := range p.Hours {
				p.Hours[j].Hour = since.Add(time.Duration(j) * time.Hour)
			}
			by[h.PartnerID] = p
			order = append(order, p)
		}
		pt := &p.Hours[i]
		pt.In, pt.Out, pt.Errors, pt.Settled = h.In, h.Out, h.Errors, h.Settled
		if h.Settled > 0 {
			pt.LatencyAvgMs = ms(h.LatencySum / time.Duration(h.Settled))
			pt.LatencyMaxMs = ms(h.LatencyMax)
		}
		p.In, p.Out, p.Errors = p.In+h.In, p.Out+h.Out, p.Errors+h.Errors
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].In+order[i].Out > order[j].In+order[j].Out })
	out := &hourlyOut{Window: window, Since: since, Partners: []PartnerTraffic{}}
	for _, p := range order {
		out.Partners = append(out.Partners, *p)
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// The console's charts: geometry computed here, drawn by the template.
const (
	chartW, chartH = 720.0, 150.0
)

type chartBar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type chartTick struct {
	X     float64
	Label string
}

type chart struct {
	Name   string
	Max    string // the value at the top of the chart
	Bars   []chartBar
	Line   string // SVG polyline points, for latency
	Dots   []chartBar
	Ticks  []chartTick
	Legend []string
	Empty  bool
}

type partnerCharts struct {
	PartnerTraffic
	Latency string // the window's mean latency, for the heading
	Charts  []chart
}

func buildCharts(p PartnerTraffic, window string) partnerCharts {
	n := len(p.Hours)
	bw := chartW / float64(n)
	gap := min(2.0, bw/4)
	var maxMsgs, maxErr int64
	var maxLat, sumLat float64
	var settled int64
	for _, h := range p.Hours {
		maxMsgs = max(maxMsgs, h.In+h.Out)
		maxErr = max(maxErr, h.Errors)
		maxLat = max(maxLat, h.LatencyMaxMs)
		sumLat += h.LatencyAvgMs * float64(h.Settled)
		settled += h.Settled
	}
	y := func(v, top float64) float64 {
		if top <= 0 {
			return 0
		}
		return v / top * chartH
	}
	var ticks []chartTick
	for i, h := range p.Hours {
		if window == "24h" && h.Hour.Hour()%6 == 0 || window != "24h" && h.Hour.Hour() == 0 {
			label := h.Hour.Format("15:04")
			if window != "24h" {
				label = h.Hour.Format("Mon 02")
			}
			ticks = append(ticks, chartTick{X: float64(i) * bw, Label: label})
		}
	}
	label := func(h HourPoint) string { return h.Hour.Format("Mon 02 Jan 15:04") + " UTC" }
	tp := chart{Name: "Throughput", Max: fmt.Sprintf("%d / h", maxMsgs), Ticks: ticks, Legend: []string{"in", "out"}, Empty: maxMsgs == 0}
	er := chart{Name: "Errors", Max: fmt.Sprintf("%d / h", maxErr), Ticks: ticks, Legend: []string{"errors"}, Empty: maxErr == 0}
	la := chart{Name: "Latency", Max: fmtMs(maxLat), Ticks: ticks, Legend: []string{"mean", "max"}, Empty: settled == 0}
	var line []string
	for i, h := range p.Hours {
		x := float64(i) * bw
		hi, ho := y(float64(h.In), float64(maxMsgs)), y(float64(h.Out), float64(maxMsgs))
		if h.In+h.Out > 0 {
			tp.Bars = append(tp.Bars,
				chartBar{X: x, Y: chartH - hi, W: bw - gap, H: hi, Class: "b-in", Title: fmt.Sprintf("%s: %d in, %d out", label(h), h.In, h.Out)},
				chartBar{X: x, Y: chartH - hi - ho, W: bw - gap, H: ho, Class: "b-out", Title: fmt.Sprintf("%s: %d in, %d out", label(h), h.In, h.Out)})
		}
		if h.Errors > 0 {
			he := y(float64(h.Errors), float64(maxErr))
			er.Bars = append(er.Bars, chartBar{X: x, Y: chartH - he, W: bw - gap, H: he, Class: "b-err", Title: fmt.Sprintf("%s: %d of %d messages in error", label(h), h.Errors, h.In+h.Out)})
		}
		if h.Settled > 0 {
			cx := x + (bw-gap)/2
			line = append(line, fmt.Sprintf("%.1f,%.1f", cx, chartH-y(h.LatencyAvgMs, maxLat)))
			la.Dots = append(la.Dots, chartBar{X: cx, Y: chartH - y(h.LatencyMaxMs, maxLat), Class: "l-max",
				Title: fmt.Sprintf("%s: mean %s, max %s (%d settled)", label(h), fmtMs(h.LatencyAvgMs), fmtMs(h.LatencyMaxMs), h.Settled)})
		}
	}
	la.Line = strings.Join(line, " ")
	pc := partnerCharts{PartnerTraffic: p, Charts: []chart{tp, er, la}, Latency: "—"}
	if settled > 0 {
		pc.Latency = fmtMs(sumLat / float64(settled))
	}
	return pc
}

// fmtMs writes milliseconds as people read them.
func fmtMs(v float64) string {
	switch {
	case v <= 0:
		return "0"
	case v < 1000:
		return fmt.Sprintf("%.0f ms", v)
	case v < 60_000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v < 3_600_000:
		return fmt.Sprintf("%.1f min", v/60_000)
	}
	return fmt.Sprintf("%.1f h", v/3_600_000)
}

func (s *Server) mountCharts() {
	pWindow := Param{Name: "window", In: "query", Description: "24h (default) or 7d", Enum: []string{"24h", "7d"}, Noun: "window"}
	s.handle(Route{Method: "GET", Path: "/api/v1/overview/hourly", Summary: "Per partner and hour (UTC), last 24 h or 7 days: messages in and out, errors, latency from received to outcome", Role: store.RoleAuditor, Tag: "operations",
		Params: []Param{pWindow, pPartner}, Response: hourlyOut{}},
		func(w http.ResponseWriter, r *http.Request, p *principal) error {
			out, err := s.Hourly(r.Context(), r.URL.Query().Get("window"), r.URL.Query().Get("partner"))
			if err != nil {
				return err
			}
			writeJSON(w, 200, out)
			return nil
		})
	s.page("GET /ui/charts", store.RoleAuditor, func(w http.ResponseWriter, r *http.Request, p *principal) error {
		q := r.URL.Query()
		out, err := s.Hourly(r.Context(), q.Get("window"), strings.TrimSpace(q.Get("partner")))
		if err != nil {
			return err
		}
		var pcs []partnerCharts
		for _, pt := range out.Partners {
			pcs = append(pcs, buildCharts(pt, out.Window))
		}
		s.render(w, r, 200, "charts", &page{Title: "Traffic", Nav: "charts", Me: p, Data: map[string]any{
			"Window": out.Window, "Since": out.Since, "Partners": pcs, "Partner": q.Get("partner"), "W": chartW, "H": chartH}})
		return nil
	})
}
