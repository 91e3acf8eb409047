package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealthcheck asks the local server's /readyz, for container health
// checks (the image has no shell and no curl).
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, common := newFlags("healthcheck", stderr)
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if _, code, ok := parseCmd(fs, args, 0, stderr); !ok {
		return code
	}
	c, err := common.loadConfig()
	if err != nil {
		return fail(stderr, err)
	}
	addr := c.HTTP.Addr
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port) // listening everywhere: ask over loopback
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := c.HTTPScheme() + "://" + addr + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(stderr, err)
	}
	// Over TLS the certificate names the public host, not the address
	// asked here: the probe sends nothing secret and reads only readiness.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "wharf healthcheck: no answer from %s: %v (is wharf serve running? http.addr or WHARF_HTTP_ADDR)\n", url, err)
		return 1
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "wharf healthcheck: not ready (%s): %s", res.Status, body)
		return 1
	}
	fmt.Fprintf(stdout, "ready: %s", body)
	return 0
}
