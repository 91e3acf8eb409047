//go:build !linux

package durable

import "errors"

// CanSyncFS: this system has no syncfs(2); SyncFS returns errors.ErrUnsupported.
const CanSyncFS = false

func syncfs(string) error { return errors.ErrUnsupported }

func device(string) (uint64, bool) { return 0, false }
