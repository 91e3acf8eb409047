package store

// The statements TestQueryPlans explains.
const (
	CountBlobRefsSQL = countBlobRefsSQL
)

var (
	FirstWithContentsSQL = firstWithContentsSQL(2)
	SpooledSQL           = blobPrefixSQL("spool:", 100)
)
