package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wharfedi/wharf/internal/store"
)

func exerciseX12(t *testing.T, open func(t *testing.T) (store.Store, string)) {
	ctx := context.Background()

	t.Run("InterchangeRetry", func(t *testing.T) {
		// A message whose processing recorded the interchange and then
		// crashed runs again after the sender's retry (another message,
		// the same interchange) was recorded and told it repeats the
		// first: the first is still the original.
		s, _ := open(t)
		record := func(msg string) string {
			t.Helper()
			dup, err := s.RecordInterchange(ctx, &store.RecordInterchangeParams{SenderQual: "P/ZZ", SenderID: "ACME", Control: "000000001", MessageID: msg, Within: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			return dup
		}
		for i, step := range []struct{ msg, want string }{{"a", ""}, {"b", "a"}, {"a", ""}, {"b", "a"}, {"c", "a"}} {
			if got := record(step.msg); got != step.want {
				t.Fatalf("step %d: %s repeats %q, want %q", i, step.msg, got, step.want)
			}
		}
	})

	t.Run("InterchangeRace", func(t *testing.T) {
		// Two instances share one database, and several workers record the
		// same interchange (the same ISA13 from the same sender, carried by
		// different messages) at once: exactly one of them is the first, and
		// every other one is told it is a duplicate of that one. Half record
		// it inside their own Tx, half on the Store (a transaction of its
		// own), so both paths take part in the race.
		s1, dsn := open(t)
		s2, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		defer s2.Close()
		const workers, rounds = 16, 40
		for r := range rounds {
			control := fmt.Sprintf("%09d", r+1)
			type result struct {
				msg, dup string
				err      error
			}
			results := make([]result, workers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for w := range workers {
				st := []store.Store{s1, s2}[w%2]
				msg := fmt.Sprintf("m%d-%d", r, w)
				wg.Go(func() {
					p := &store.RecordInterchangeParams{SenderQual: "P/ZZ", SenderID: "ACME", Control: control, MessageID: msg, Within: time.Hour}
					<-start
					var dup string
					var err error
					if w%4 < 2 {
						err = st.WithTx(ctx, func(tx store.Tx) error {
							var err error
							dup, err = tx.RecordInterchange(ctx, p)
							return err
						})
					} else {
						dup, err = st.RecordInterchange(ctx, p)
					}
					results[w] = result{msg: msg, dup: dup, err: err}
				})
			}
			close(start)
			wg.Wait()
			var first []string
			for _, res := range results {
				if res.err != nil {
					t.Fatalf("round %d: %s: %v", r, res.msg, res.err)
				}
				if res.dup == "" {
					first = append(first, res.msg)
				}
			}
			if len(first) != 1 {
				t.Fatalf("round %d: %d of %d concurrent records of one interchange were not duplicates: %v", r, len(first), workers, first)
			}
			for _, res := range results {
				if res.dup != "" && res.dup != first[0] {
					t.Fatalf("round %d: %s is a duplicate of %s, want %s", r, res.msg, res.dup, first[0])
				}
			}
		}
	})
}
