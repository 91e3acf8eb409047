package durable

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// CanSyncFS: this system has syncfs(2), which (since Linux 5.8) also
// reports the write-back errors of the file system.
const CanSyncFS = true

// device is the number of the device (file system) that holds path.
func device(path string) (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, false
	}
	return uint64(st.Dev), true
}

func syncfs(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("syncfs %s: %w", path, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", path, err)
	}
	return nil
}
