package app

import (
	"github.com/wharfedi/wharf/internal/store"
	"github.com/wharfedi/wharf/process"
	wsync "github.com/wharfedi/wharf/sync"
	"github.com/wharfedi/wharf/transports/as2"
)

// The store satisfies the narrow interfaces its consumers declare, and
// as2Books the as2 package's Books. The checks live here because this
// package imports both sides without a cycle (store cannot import sync or
// process).
var (
	_ wsync.Store           = store.Store(nil)
	_ wsync.ActStore        = store.Store(nil)
	_ wsync.TraceStore      = store.Store(nil)
	_ wsync.ExceptionLister = store.Store(nil)
	_ wsync.MetricsStore    = store.Store(nil)
	_ process.Store         = store.Store(nil)
	_ process.CounterStore  = store.Store(nil)

	_ as2.Books = (*as2Books)(nil)
)
