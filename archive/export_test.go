package archive

import "time"

// SetReadyTTL changes how long Ready reuses its answer, until the test ends.
func SetReadyTTL(d time.Duration) (restore func()) {
	old := readyTTL
	readyTTL = d
	return func() { readyTTL = old }
}

// Flush is the file system the archive flushes per group ("" when it
// fsyncs each file and folder).
func (a *Archive) Flush() string { return a.flush }
