package region

import (
	"io"
	"net"
	"sync"
	"testing"
)

// cutProxy is a TCP proxy in front of the broker for one gateway: cut
// closes its connections without an MQTT DISCONNECT, as a gateway that is
// killed or loses its network does, so the broker publishes the gateway's
// last will; until resume, new connections are closed at once.
type cutProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   []net.Conn
	refuse  bool
	wg      sync.WaitGroup
	stopped bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// URL is the broker URL through the proxy.
func (p *cutProxy) URL() string { return "tcp://" + p.ln.Addr().String() }

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.refuse || p.stopped {
			p.mu.Unlock()
			c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, b)
		p.wg.Go(func() { io.Copy(b, c); b.Close() })
		p.wg.Go(func() { io.Copy(c, b); c.Close() })
		p.mu.Unlock()
	}
}

// cut drops every connection and refuses new ones.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// resume accepts connections again.
func (p *cutProxy) resume() {
	p.mu.Lock()
	p.refuse = false
	p.mu.Unlock()
}

func (p *cutProxy) close() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}
