package testenv

import (
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Default broker addresses: the project machines run both there.
const (
	DefaultNATSURL = "nats://127.0.0.1:4222"
	DefaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/"
)

const (
	natsHint = "start nats-server with JetStream on 127.0.0.1:4222 (start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- " +
		"-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log), or set WHARF_TEST_NATS_URL=nats://HOST:PORT"
	amqpHint = "start RabbitMQ on 127.0.0.1:5672 with guest/guest (rabbitmq-server -detached), or set WHARF_TEST_AMQP_URL=amqp://USER:PASSWORD@HOST:PORT/"
)

// NATS returns the URL of a NATS server with JetStream (WHARF_TEST_NATS_URL,
// else nats://127.0.0.1:4222); a test isolates itself with subjects and a
// stream of its own (RandName).
func NATS(t testing.TB) string {
	t.Helper()
	return broker(t, "NATS", "WHARF_TEST_NATS_URL", DefaultNATSURL, natsHint)
}

// RabbitMQ returns the URL of a RabbitMQ server (WHARF_TEST_AMQP_URL, else
// amqp://guest:guest@127.0.0.1:5672/); a test isolates itself with an
// exchange and queues of its own (RandName).
func RabbitMQ(t testing.TB) string {
	t.Helper()
	return broker(t, "RabbitMQ", "WHARF_TEST_AMQP_URL", DefaultAMQPURL, amqpHint)
}

func broker(t testing.TB, name, env, def, hint string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		u = def
	}
	p, err := url.Parse(strings.Split(u, ",")[0])
	if err != nil {
		t.Fatalf("%s=%q: %v", env, u, err)
	}
	c, err := net.DialTimeout("tcp", p.Host, 2*time.Second)
	if err != nil {
		Missing(t, name, hint, err)
		return ""
	}
	c.Close()
	return u
}

// RandName returns prefix followed by random letters and digits, for
// names of streams, subjects, exchanges and queues of one test.
func RandName(prefix string) string { return prefix + randHex(6) }
