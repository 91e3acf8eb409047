package store

// The statements TestQueryPlans explains.
const (
	FirstWithContentSQL = firstWithContentSQL
	CountBlobRefsSQL    = countBlobRefsSQL
)

var SpooledSQL = blobPrefixSQL("spool:", 100)
