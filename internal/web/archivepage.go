package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/wharfedi/wharf/archive"
	"github.com/wharfedi/wharf/internal/store"
)

// archivePageData is what the console's archive page needs besides its
// rows: the query (to keep the filters filled in), the statuses to filter
// by, and the links to the next (older) page and back to the newest.
func archivePageData(r *http.Request, f store.MessageFilter, es []*archive.Entry) map[string]any {
	q := r.URL.Query()
	for _, k := range []string{"flash", "ok", "fs"} {
		q.Del(k)
	}
	data := map[string]any{"Q": q, "Statuses": statusNames(), "Limit": f.Limit, "Paged": !f.Before.IsZero()}
	selected := map[string]bool{}
	for _, st := range f.Statuses {
		selected[string(st)] = true
	}
	data["Selected"] = selected
	if n := len(es); n > 0 && n == f.Limit {
		older := cloneValues(q)
		older.Set("before", es[n-1].ReceivedAt.UTC().Format(time.RFC3339Nano))
		older.Set("before_id", es[n-1].ID)
		data["Older"] = "/ui/messages?" + older.Encode()
	}
	if !f.Before.IsZero() {
		newest := cloneValues(q)
		newest.Del("before")
		newest.Del("before_id")
		data["Newest"] = "/ui/messages?" + newest.Encode()
	}
	return data
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// recentTransports are the transports of the last 7 days' messages, for
// the archive's transport filter.
func (s *Server) recentTransports(ctx context.Context) []string {
	stats, err := s.st.MessageStats(ctx, s.now().Add(-7*24*time.Hour))
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range stats {
		if !slices.Contains(out, m.Transport) {
			out = append(out, m.Transport)
		}
	}
	slices.Sort(out)
	return out
}
