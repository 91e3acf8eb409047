package durable

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// CanSyncFS: this system has syncfs(2), which (since Linux 5.8) also
// reports the write-back errors of the file system.
const CanSyncFS = true

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
