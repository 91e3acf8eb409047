package faults

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// door is how a document reaches Wharf.
type door string

const (
	doorFolder door = "folder" // erp: written under a dot name, renamed into the watched folder
	doorSFTP   door = "sftp"   // acme: uploaded, acknowledged by CLOSE OK
	doorHTTP   door = "http"   // tms: posted, acknowledged by 201
)

// partnerOf names the partner behind each door.
var partnerOf = map[door]string{doorFolder: "erp", doorSFTP: "acme", doorHTTP: "tms"}

// load is a steady mixed stream of documents through the three doors, as
// partners send them: each sender retries a document until Wharf
// acknowledges it, whatever happens to the server meanwhile. Control
// numbers are unique across the whole load, so a document is its number.
type load struct {
	s     *site
	nodes []*site // the instances partners may reach (a cluster); default the site alone
	turn  atomic.Int64
	total int
	rate  int // documents per second over all doors; 0: as fast as acknowledged

	mu      sync.Mutex
	acked   map[int]door      // control number -> the door that acknowledged it
	ackedAt map[int]time.Time // when
	errs    map[door]int      // refusals and failures the senders saw (and retried)
	lastErr map[door]string
	sent    map[door]int // attempts
	wg      sync.WaitGroup
	quit    chan struct{}
}

// startLoad sends total documents, split over the doors round-robin by
// control number, with one folder writer, two SFTP sessions and two HTTP
// posters.
func startLoad(s *site, total, rate int) *load {
	return startLoadOn([]*site{s}, total, rate)
}

// startLoadOn is startLoad against several instances of one installation:
// each sender picks the next instance whenever it (re)connects, so a dead
// instance's partners move to the others, as behind a load balancer.
func startLoadOn(nodes []*site, total, rate int) *load {
	s := nodes[0]
	l := &load{s: s, nodes: nodes, total: total, rate: rate, acked: map[int]door{}, ackedAt: map[int]time.Time{},
		errs: map[door]int{}, lastErr: map[door]string{}, sent: map[door]int{}, quit: make(chan struct{})}
	queues := map[door]chan int{doorFolder: make(chan int, total), doorSFTP: make(chan int, total), doorHTTP: make(chan int, total)}
	doors := []door{doorFolder, doorSFTP, doorHTTP}
	l.wg.Add(1)
	go func() { // the pacer hands out control numbers
		defer l.wg.Done()
		defer func() {
			for _, q := range queues {
				close(q)
			}
		}()
		var tick <-chan time.Time
		if rate > 0 {
			tk := time.NewTicker(time.Second / time.Duration(rate))
			defer tk.Stop()
			tick = tk.C
		}
		for i := 1; i <= total; i++ {
			if tick != nil {
				select {
				case <-tick:
				case <-l.quit:
					return
				}
			}
			queues[doors[i%len(doors)]] <- i
		}
	}()
	l.run(1, queues[doorFolder], l.folder)
	l.run(2, queues[doorSFTP], l.sftpSender())
	l.run(2, queues[doorHTTP], l.httpSender())
	return l
}

// run starts n workers that send each number from q until it is acknowledged.
func (l *load) run(n int, q chan int, newSender func() func(ctl int) error) {
	for w := 0; w < n; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			send := newSender()
			for ctl := range q {
				for {
					select {
					case <-l.quit:
						return
					default:
					}
					err, d := send(ctl), doorOf(ctl)
					l.mu.Lock()
					l.sent[d]++
					if err == nil {
						l.acked[ctl], l.ackedAt[ctl] = d, time.Now()
						l.mu.Unlock()
						break
					}
					l.errs[d]++
					l.lastErr[d] = err.Error()
					l.mu.Unlock()
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
}

func doorOf(ctl int) door { return []door{doorFolder, doorSFTP, doorHTTP}[ctl%3] }

// wait returns when every document is acknowledged, or fails the test
// after d.
func (l *load) wait(d time.Duration) {
	l.s.t.Helper()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		close(l.quit)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.s.t.Fatalf("load: %d of %d documents acknowledged after %s; errors %v, last %v", len(l.acked), l.total, d, l.errs, l.lastErr)
	}
}

// ackedCount is how many documents Wharf has acknowledged so far.
func (l *load) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// errors is the senders' tally of refusals by door.
func (l *load) errors() map[door]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[door]int{}
	for k, v := range l.errs {
		m[k] = v
	}
	return m
}

// node is the instance a sender's next connection goes to (round robin).
func (l *load) node() *site { return l.nodes[int(l.turn.Add(1))%len(l.nodes)] }

func fileName(ctl int) string { return fmt.Sprintf("doc%06d.edi", ctl) }

// folder writes the document as a careful exporter does (a dot name, then a
// rename). The folder's acknowledgment is the file's removal after the
// archive commit; the audit checks that every file written went through.
func (l *load) folder() func(ctl int) error {
	return func(ctl int) error {
		name := fileName(ctl)
		tmp := filepath.Join(l.s.in, "."+name)
		if err := os.WriteFile(tmp, doc("ERP", ctl), 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, filepath.Join(l.s.in, name))
	}
}

// sftpSender keeps one SSH session, redialled after any failure (the
// server may be gone); an upload counts when its CLOSE returns OK.
func (l *load) sftpSender() func() func(ctl int) error {
	return func() func(ctl int) error {
		var (
			conn *ssh.Client
			c    *sftp.Client
		)
		reset := func() {
			if c != nil {
				c.Close()
			}
			if conn != nil {
				conn.Close()
			}
			c, conn = nil, nil
		}
		return func(ctl int) error {
			if c == nil {
				var err error
				conn, err = ssh.Dial("tcp", l.node().sftpAddr, &ssh.ClientConfig{User: "acme", Auth: []ssh.AuthMethod{ssh.PublicKeys(l.s.acme)},
					HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
				if err != nil {
					return err
				}
				if c, err = sftp.NewClient(conn); err != nil {
					reset()
					return err
				}
			}
			f, err := c.Create("inbound/" + fileName(ctl))
			if err != nil {
				reset()
				return err
			}
			if _, err := f.Write(doc("ACME", ctl)); err != nil {
				f.Close()
				reset()
				return err
			}
			if err := f.Close(); err != nil {
				reset()
				return err
			}
			return nil
		}
	}
}

// httpSender posts with the document's own Idempotency-Key, so a retry of a
// post whose 201 was lost records nothing new.
func (l *load) httpSender() func() func(ctl int) error {
	return func() func(ctl int) error {
		client := &http.Client{Timeout: 10 * time.Second}
		node := l.node()
		return func(ctl int) (err error) {
			defer func() {
				if err != nil {
					node = l.node() // the next instance, as a load balancer would
				}
			}()
			req, _ := http.NewRequest("POST", "http://"+node.httpAddr+"/api/v1/inbound/tms?filename="+fileName(ctl), bytes.NewReader(doc("TMS", ctl)))
			req.Header.Set("Authorization", "Bearer "+l.s.token)
			req.Header.Set("Idempotency-Key", fmt.Sprintf("tms-%d", ctl))
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("POST %s: %s", fileName(ctl), resp.Status)
			}
			return nil
		}
	}
}
