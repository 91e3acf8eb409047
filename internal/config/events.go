package config

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// EventSub is a subscription to Wharf's events (docs/events.md): the
// events of the given types, filtered by partner or role, published as
// CloudEvents to a broker.
type EventSub struct {
	// The subscription's name: its cursor, lease and metrics go by it
	// ('wharf events status', 'wharf events replay --to NAME').
	Name string `yaml:"name"`
	// To is the broker: nats://HOST:PORT (JetStream) or
	// amqp://USER@HOST:PORT/VHOST (RabbitMQ), without a password, which
	// comes from PasswordEnv; or an https:// (http://) URL: CloudEvents
	// webhooks through the delivery engine.
	To     string      `yaml:"to"`
	Types  []string    `yaml:"types"` // shipment.delivered, shipment.*, message.*, exception.*; none: every event
	Filter EventFilter `yaml:"filter"`
	// PasswordEnv names the environment variable holding the broker's
	// password (added to To's user info).
	PasswordEnv string `yaml:"password_env"`
	// NATS: Prefix starts every subject (default "wharf"); Stream, when
	// set, is created to hold PREFIX.> (otherwise one must exist).
	Prefix string `yaml:"prefix"`
	Stream string `yaml:"stream"`
	// RabbitMQ: Exchange is the topic exchange (default "wharf"); Queue,
	// when set, a durable queue bound to it with "#".
	Exchange string `yaml:"exchange"`
	Queue    string `yaml:"queue"`
	// Webhooks: SecretEnv names the variable holding the HMAC secret of
	// the signature (required); Mode is structured (default) or binary;
	// Partner is the partner whose outbound messages carry the events
	// (their history, dead letters and exceptions; required).
	SecretEnv string `yaml:"secret_env"`
	Mode      string `yaml:"mode"`
	Partner   string `yaml:"partner"`
}

// EventFilter keeps the events of one partner or one role.
type EventFilter struct {
	// Only the events about this partner (a partner ID).
	Partner string `yaml:"partner"`
	// Only the events about partners of this role (erp, tms, wms,
	// invoicing, carrier or customer).
	Role string `yaml:"role"`
}

// Scheme is "nats", "amqp" (amqps counts as amqp) or "webhook" (http
// and https).
func (e EventSub) Scheme() string {
	s, _, _ := strings.Cut(e.To, "://")
	switch s {
	case "amqps":
		return "amqp"
	case "http", "https":
		return "webhook"
	}
	return s
}

// EventURL is e.To with the password from e.PasswordEnv.
func (c *Config) EventURL(e EventSub) (string, error) {
	if e.PasswordEnv == "" {
		return e.To, nil
	}
	pw := c.Getenv(e.PasswordEnv)
	if pw == "" {
		return "", fmt.Errorf("event subscription %s: environment variable %s (password_env) is empty", e.Name, e.PasswordEnv)
	}
	u, err := url.Parse(e.To)
	if err != nil || u.User == nil {
		return "", fmt.Errorf("event subscription %s: to must name the user (SCHEME://USER@HOST:PORT) for password_env", e.Name)
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String(), nil
}

func (c *Config) validateEvents() error {
	names := map[string]bool{}
	partners := map[string]bool{}
	for _, p := range c.Partners {
		partners[p.ID] = true
	}
	for i, e := range c.Events {
		f := fmt.Sprintf("events[%d]", i)
		if err := c.validateSubName(f, "event subscription", e.Name, names); err != nil {
			return err
		}
		u, err := url.Parse(e.To)
		switch {
		case e.To == "":
			return c.errAt(f+".to", "is required: nats://HOST:PORT, amqp://USER@HOST:PORT/VHOST or an https:// webhook URL")
		case err != nil || u.Host == "" || (e.Scheme() != "nats" && e.Scheme() != "amqp" && e.Scheme() != "webhook"):
			return c.errAt(f+".to", "%q: use nats://HOST:PORT (JetStream), amqp://USER@HOST:PORT/VHOST (RabbitMQ) or https://HOST/PATH (CloudEvents webhook)", redactURL(e.To))
		}
		if _, has := u.User.Password(); has {
			return c.errAt(f+".to", "holds a password: keep secrets out of the config file (name an environment variable in password_env)")
		}
		for j, t := range e.Types {
			if t == "" || strings.HasPrefix(t, "wharf.") {
				return c.errAt(fmt.Sprintf("%s.types[%d]", f, j), "%q: give the type without the wharf. prefix, e.g. shipment.delivered, shipment.* or message.*", t)
			}
			if _, err := path.Match(t, ""); err != nil {
				return c.errAt(fmt.Sprintf("%s.types[%d]", f, j), "%q is not a type pattern: %v", t, err)
			}
		}
		if p := e.Filter.Partner; p != "" && !partners[p] {
			return c.errAt(f+".filter.partner", "%q is not a partner declared in this file (partners[].id)", p)
		}
		if r := e.Filter.Role; r != "" && !validRoles[r] {
			return c.errAt(f+".filter.role", "%q is not a role: use erp, tms, wms, invoicing, carrier or customer", r)
		}
		if e.Scheme() == "nats" && (e.Exchange != "" || e.Queue != "") {
			return c.errAt(f+".exchange", "exchange and queue are RabbitMQ settings; %s is a NATS subscription (prefix, stream)", e.Name)
		}
		if e.Scheme() == "amqp" && (e.Prefix != "" || e.Stream != "") {
			return c.errAt(f+".prefix", "prefix and stream are NATS settings; %s is a RabbitMQ subscription (exchange, queue)", e.Name)
		}
		if e.Scheme() == "webhook" {
			if err := c.validateEventWebhook(f, e, partners); err != nil {
				return err
			}
			continue
		}
		if e.SecretEnv != "" || e.Mode != "" || e.Partner != "" {
			return c.errAt(f+".secret_env", "secret_env, mode and partner are webhook settings; %s is a %s subscription", e.Name, e.Scheme())
		}
		if e.PasswordEnv != "" && u.User == nil {
			return c.errAt(f+".password_env", "to must name the user (SCHEME://USER@HOST:PORT) whose password %s holds", e.PasswordEnv)
		}
	}
	return nil
}

func (c *Config) validateEventWebhook(f string, e EventSub, partners map[string]bool) error {
	switch {
	case e.Prefix != "" || e.Stream != "" || e.Exchange != "" || e.Queue != "" || e.PasswordEnv != "":
		return c.errAt(f+".to", "prefix, stream, exchange, queue and password_env are broker settings; %s is a webhook (secret_env, mode, partner)", e.Name)
	case e.SecretEnv == "":
		return c.errAt(f+".secret_env", "is required: the receiver checks the HMAC signature (X-Wharf-Signature) with this secret")
	case e.Mode != "" && e.Mode != "structured" && e.Mode != "binary":
		return c.errAt(f+".mode", "%q: use structured (the event as JSON) or binary (the data as body, attributes in ce-* headers)", e.Mode)
	case e.Partner == "":
		return c.errAt(f+".partner", "is required: the partner whose outbound messages carry the events (their history and dead letters)")
	case !partners[e.Partner]:
		return c.errAt(f+".partner", "%q is not a partner declared in this file (partners[].id)", e.Partner)
	}
	return nil
}

// validateSubName checks the name of subscription f (what it is, for
// the message) and records it in names, which has those before it.
func (c *Config) validateSubName(f, what, name string, names map[string]bool) error {
	if name == "" {
		return c.errAt(f+".name", "is required")
	}
	if err := validName(name); err != nil {
		return c.errAt(f+".name", "%v", err)
	}
	if names[name] {
		return c.errAt(f+".name", "%s %q is declared twice", what, name)
	}
	names[name] = true
	return nil
}

var validRoles = map[string]bool{"erp": true, "tms": true, "wms": true, "invoicing": true, "carrier": true, "customer": true}

func validName(n string) error {
	for i, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '-' || r == '_' || r == '.'))) {
			return fmt.Errorf("%q: use letters, digits, '-', '_' and '.'", n)
		}
	}
	return nil
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// EventIn is an inbound transport on a broker (docs/events.md, "Events
// in"): the messages of a NATS JetStream subject or of a RabbitMQ queue,
// canonical JSON documents or CloudEvents carrying them, are a partner's
// inbound documents, each archived before the broker is told it was taken.
type EventIn struct {
	// Name identifies the inbound subscription (the durable JetStream consumer's name).
	Name string `yaml:"name"`
	// From is the broker: nats://HOST:PORT or amqp://USER@HOST:PORT/VHOST, without a password.
	From string `yaml:"from"`
	// PasswordEnv names the environment variable holding the broker's password.
	PasswordEnv string `yaml:"password_env"`
	// Partner is the partner the documents come from (declared in partners).
	Partner string `yaml:"partner"`
	// Stream and Subject (NATS, both required): the stream, which must exist, and the subject read from it.
	Stream  string `yaml:"stream"`
	Subject string `yaml:"subject"`
	// Queue (RabbitMQ, required): the queue read, declared durable when it does not exist.
	Queue string `yaml:"queue"`
}

// Scheme is "nats" or "amqp" (amqps counts as amqp).
func (e EventIn) Scheme() string { return EventSub{To: e.From}.Scheme() }

// EventInURL is e.From with the password from e.PasswordEnv.
func (c *Config) EventInURL(e EventIn) (string, error) {
	return c.EventURL(EventSub{Name: e.Name, To: e.From, PasswordEnv: e.PasswordEnv})
}

func (c *Config) validateEventsIn() error {
	names := map[string]bool{}
	for i, e := range c.EventsIn {
		f := fmt.Sprintf("events_in[%d]", i)
		if err := c.validateSubName(f, "inbound event subscription", e.Name, names); err != nil {
			return err
		}
		u, err := url.Parse(e.From)
		switch {
		case e.From == "":
			return c.errAt(f+".from", "is required: nats://HOST:PORT or amqp://USER@HOST:PORT/VHOST")
		case err != nil || u.Host == "" || (e.Scheme() != "nats" && e.Scheme() != "amqp"):
			return c.errAt(f+".from", "%q: use nats://HOST:PORT (JetStream) or amqp://USER@HOST:PORT/VHOST (RabbitMQ)", redactURL(e.From))
		}
		if _, has := u.User.Password(); has {
			return c.errAt(f+".from", "holds a password: keep secrets out of the config file (name an environment variable in password_env)")
		}
		if e.PasswordEnv != "" && u.User == nil {
			return c.errAt(f+".password_env", "from must name the user (SCHEME://USER@HOST:PORT) whose password %s holds", e.PasswordEnv)
		}
		_, declared := c.PartnerByID(e.Partner)
		switch {
		case e.Partner == "":
			return c.errAt(f+".partner", "is required: the partner the documents come from")
		case !declared:
			return c.errAt(f+".partner", "%q is not a partner declared in this file (partners[].id)", e.Partner)
		}
		if e.Scheme() == "nats" {
			switch {
			case e.Queue != "":
				return c.errAt(f+".queue", "queue is a RabbitMQ setting; %s reads NATS (stream, subject)", e.Name)
			case e.Stream == "":
				return c.errAt(f+".stream", "is required: the JetStream stream holding the subject")
			case e.Subject == "":
				return c.errAt(f+".subject", "is required: the subject (wildcards * and > allowed) whose messages are documents")
			}
			continue
		}
		switch {
		case e.Stream != "" || e.Subject != "":
			return c.errAt(f+".stream", "stream and subject are NATS settings; %s reads RabbitMQ (queue)", e.Name)
		case e.Queue == "":
			return c.errAt(f+".queue", "is required: the queue whose messages are documents")
		}
	}
	return nil
}
