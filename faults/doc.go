// Package faults is Wharf's fault-injection suite. It holds no library code:
// its tests run the real `wharf serve` binary under a steady mixed load
// (folder drops, SFTP uploads, HTTP posts) and inject what production
// brings (kill -9 storms, a PostgreSQL outage, an S3 outage, a full disk,
// stuck peers, hostile input), then audit what a partner and an auditor
// would see: every acknowledged input archived and processed once, one
// 997 each, no control number drawn twice, the archive's hash chain intact,
// the server's memory bounded, and how long recovery took.
//
// `go test ./faults/` runs the short variants (part of CI; a few hundred
// documents each). `WHARF_FAULTS=long go test -timeout 60m ./faults/ -v`
// runs the figures of docs/reliability.md (3,000 documents, 10 kills,
// 60 s outages). Every scenario is loopback only and removes what it made.
package faults
