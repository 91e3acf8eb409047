package sftp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pkg/sftp"
)

// throttledSession serves partner's session with a throttle.
func throttledSession(t *testing.T, partner string, rc *keep, throttle func(context.Context, string) (int, string)) *sftp.Client {
	t.Helper()
	return sessionWith(t, ServerOptions{Partner: partner, Receiver: rc, Throttle: throttle})
}

// Over its rate limit a partner's upload fails at open with
// SSH_FX_FAILURE and a message naming the limit and the wait; nothing is
// archived; another partner uploading meanwhile is never refused.
func TestUploadThrottled(t *testing.T) {
	asked := map[string]int{}
	throttle := func(_ context.Context, partner string) (int, string) {
		asked[partner]++
		if partner == "acme" && asked[partner] > 2 {
			return 9, "rate limit of acme at sftp: 2 files per minute (burst 2); retry in 9 s"
		}
		return 0, ""
	}
	acmeGot, betaGot := &keep{got: map[string]string{}}, &keep{got: map[string]string{}}
	acme := throttledSession(t, "acme", acmeGot, throttle)
	beta := throttledSession(t, "beta", betaGot, throttle)
	refused := 0
	for i := 0; i < 20; i++ { // ten times acme's limit
		err := put(acme, fmt.Sprintf("inbound/A%d.edi", i), "ISA")
		if err != nil {
			var se *sftp.StatusError
			if !errors.As(err, &se) || se.Code != 4 || !strings.Contains(err.Error(), "rate limit of acme at sftp: 2 files per minute") ||
				!strings.Contains(err.Error(), "retry in 9 s") {
				t.Fatalf("upload %d: %v, want SSH_FX_FAILURE naming the limit", i, err)
			}
			refused++
		}
		if i%5 == 0 {
			if err := put(beta, fmt.Sprintf("inbound/B%d.edi", i), "ISA"); err != nil {
				t.Fatalf("beta refused while acme floods: %v", err)
			}
		}
	}
	if refused != 18 || len(acmeGot.names()) != 2 || len(betaGot.names()) != 4 {
		t.Fatalf("acme: %d refused, %d archived; beta: %d archived", refused, len(acmeGot.names()), len(betaGot.names()))
	}
	if _, err := acme.Stat("inbound/A19.edi"); err == nil {
		t.Fatal("a refused upload is listed")
	}
}
