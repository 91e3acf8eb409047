package events

import (
	"context"
	"sync"
)

// Lazy is a Sink that connects on its first Publish, and again on the
// next Publish after a failed connection: Wharf starts while a broker is
// down, and its events wait in the outbox meanwhile.
func Lazy(dial func(ctx context.Context) (Sink, error)) Sink { return &lazy{dial: dial} }

type lazy struct {
	mu   sync.Mutex
	dial func(ctx context.Context) (Sink, error)
	s    Sink
}

func (l *lazy) Publish(ctx context.Context, evs []*Event) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil {
		s, err := l.dial(ctx)
		if err != nil {
			return 0, err
		}
		l.s = s
	}
	return l.s.Publish(ctx, evs)
}

func (l *lazy) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.s == nil {
		return nil
	}
	err := l.s.Close()
	l.s = nil
	return err
}
