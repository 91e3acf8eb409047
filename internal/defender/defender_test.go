package defender

import (
	"fmt"
	"testing"
	"time"
)

func TestLockoutWindow(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := New(3, time.Minute, func() time.Time { return now })
	for i := 1; i <= 3; i++ {
		if locked, _ := d.Locked("192.0.2.1:1000"); locked {
			t.Fatalf("locked before failure %d", i)
		}
		if got := d.Fail(fmt.Sprintf("192.0.2.1:%d", 1000+i)); got != (i == 3) {
			t.Fatalf("failure %d: Fail = %v", i, got)
		}
		now = now.Add(10 * time.Second)
	}
	locked, wait := d.Locked("192.0.2.1:9")
	if !locked || wait != 30*time.Second { // the first failure leaves the window 60 s after it
		t.Fatalf("after 3 failures: locked %v for %v, want true for 30s", locked, wait)
	}
	if locked, _ := d.Locked("192.0.2.2:9"); locked {
		t.Fatal("another address is locked too")
	}
	if d.Fail("192.0.2.1:9") {
		t.Fatal("a failure past the threshold reports a new lockout")
	}
	now = now.Add(31 * time.Second)
	if locked, _ := d.Locked("192.0.2.1:9"); !locked {
		t.Fatal("the fourth failure (at +30 s) keeps the address locked")
	}
	now = now.Add(2 * time.Minute)
	if locked, _ := d.Locked("192.0.2.1"); locked {
		t.Fatal("still locked after the window")
	}
	if len(d.failures) != 0 {
		t.Fatalf("%d addresses remembered after their window", len(d.failures))
	}
}

func TestBoundedMemory(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := New(5, time.Minute, func() time.Time { return now })
	for i := 0; i < maxAddresses+10; i++ {
		d.Fail(fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255))
	}
	if n := len(d.failures); n > maxAddresses {
		t.Fatalf("%d addresses held, at most %d", n, maxAddresses)
	}
}
