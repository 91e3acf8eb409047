// Package examples holds example configurations shipped with Wharf. The
// demo (demo/) is embedded so that `wharf demo` runs from the binary alone.
package examples

import "embed"

// Demo holds demo/: the configuration template and the ERP's order export
// that `wharf demo` plays through.
//
//go:embed demo
var Demo embed.FS
