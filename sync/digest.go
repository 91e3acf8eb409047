package sync

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

// Digest writes the open exceptions as a plain-text report for people:
// counts per owner and reason, then each exception (oldest first within
// its owner) with its age, object, partner and what to do. It returns the
// report and the number of open exceptions.
func Digest(ctx context.Context, st ExceptionLister, now time.Time) (string, int, error) {
	var open []*store.Exception
	f := store.ExceptionFilter{Statuses: []string{store.ExceptionOpen}, Limit: 1000}
	for {
		page, err := st.ListExceptions(ctx, f)
		if err != nil {
			return "", 0, err
		}
		open = append(open, page...)
		if len(page) < f.Limit || len(open) >= 10000 {
			break
		}
		last := page[len(page)-1]
		f.Before, f.BeforeID = last.CreatedAt, last.ID
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Wharf exception digest, %s\n", now.UTC().Format("2006-01-02 15:04 MST"))
	if len(open) == 0 {
		b.WriteString("\nNo open exceptions.\n")
		return b.String(), 0, nil
	}
	byOwner := map[string][]*store.Exception{}
	counts := map[string]int{}
	for _, x := range open {
		byOwner[x.Owner] = append(byOwner[x.Owner], x)
		counts[x.Owner+"\t"+x.Reason]++
	}
	fmt.Fprintf(&b, "\n%d open exception(s):\n", len(open))
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		owner, reason, _ := strings.Cut(k, "\t")
		fmt.Fprintf(&b, "  %-10s %-24s %d\n", owner, reason, counts[k])
	}
	owners := make([]string, 0, len(byOwner))
	for o := range byOwner {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, o := range owners {
		xs := byOwner[o]
		sort.Slice(xs, func(i, j int) bool { return xs[i].CreatedAt.Before(xs[j].CreatedAt) })
		fmt.Fprintf(&b, "\nOwner %s (%d):\n", o, len(xs))
		for _, x := range xs {
			obj := strings.TrimSpace(x.ObjectKind + " " + x.ObjectKey)
			fmt.Fprintf(&b, "- [%s] %s, %s old, %s", x.Reason, obj, Age(now.Sub(x.CreatedAt)), x.ID)
			if x.PartnerID != "" {
				fmt.Fprintf(&b, ", partner %s", x.PartnerID)
			}
			fmt.Fprintf(&b, "\n  %s\n", x.Detail)
		}
	}
	b.WriteString("\nAct on them in the console or with 'wharf exceptions resolve|dismiss|retry ID --comment TEXT'.\n")
	return b.String(), len(open), nil
}

// Age says how old something is, for people: 42s, 17m, 5h, 3d.
func Age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
