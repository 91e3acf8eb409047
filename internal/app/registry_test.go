package app

import (
	"testing"

	"github.com/wharfedi/wharf/internal/config"
	"github.com/wharfedi/wharf/transports/as2"
)

// TestRegistry: the routing priority picks a partner's outbound transport,
// every transport that can be picked is pushed by the delivery engine, and
// only the polled ones have pulls.
func TestRegistry(t *testing.T) {
	r := newRegistry()
	folder := &config.PartnerFolder{Outbound: "/tmp/out"}
	for _, tc := range []struct {
		name string
		p    config.Partner
		want string
	}{
		{"nothing configured: partners fetch from Wharf's SFTP server", config.Partner{ID: "a"}, transportSFTPServer},
		{"AS2 wins over a folder", config.Partner{ID: "a", AS2: &config.PartnerAS2{URL: "http://x/as2"}, Folder: folder}, as2.TransportAS2},
		{"folder", config.Partner{ID: "a", Folder: folder}, transportFolder},
		{"an inbound-only folder is not a route", config.Partner{ID: "a", Folder: &config.PartnerFolder{Inbound: "/tmp/in"}}, transportSFTPServer},
		{"SFTP push", config.Partner{ID: "a", SFTPRemote: &config.SFTPRemote{Push: &config.SFTPPush{Folder: "in"}}}, transportSFTPClient},
	} {
		got := r.transportFor(tc.p)
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
		if got != transportSFTPServer && !r.pushes(got) {
			t.Errorf("%s: %s is picked but not pushed", tc.name, got)
		}
	}
	if r.pushes(transportSFTPServer) || r.pushes(as2.TransportMDNIn) {
		t.Error("a fetched or evidence-only transport is pushed")
	}
	if !r.pushes(as2.TransportMDNAsync) {
		t.Error("async MDNs Wharf owes are not pushed")
	}
	var pulled []string
	for _, tr := range r.list {
		if tr.pull != nil {
			pulled = append(pulled, tr.name)
		}
	}
	if len(pulled) != 2 || pulled[0] != transportS3 || pulled[1] != transportSFTPClient {
		t.Errorf("polled transports %v, want s3 and sftp-client", pulled)
	}
}
