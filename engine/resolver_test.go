package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/wsfleet/wsfleet/engine"
	"github.com/wsfleet/wsfleet/internal/testserver"
)

// fleetName is the name the in-test DNS server resolves to several loopback addresses.
const fleetName = "fleet.wsfleet.test."

// dnsServer answers A queries for fleetName with addrs (and every other query with no
// records) over UDP on loopback. It returns a Go resolver that asks it, and the number of
// questions it has had for fleetName.
func dnsServer(t testing.TB, addrs []netip.Addr) (*net.Resolver, *atomic.Int64) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	name := dnsmessage.MustNewName(fleetName)
	var asked atomic.Int64
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true})
			b.EnableCompression()
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if q.Name == name {
				asked.Add(1)
				if q.Type == dnsmessage.TypeA {
					for _, a := range addrs {
						_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: a.As4()})
					}
				}
			}
			msg, err := b.Finish()
			if err == nil {
				_, _ = pc.WriteTo(msg, from)
			}
		}
	}()
	srv := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", srv)
	}}, &asked
}

// loopbackServers starts the reference server on 127.0.0.1 … 127.0.0.n, all on one port; it
// returns the addresses and the port.
func loopbackServers(t testing.TB, n int) ([]netip.Addr, int) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		var addrs []netip.Addr
		var started []*testserver.Server
		port := 0
		var err error
		for i := 1; i <= n; i++ {
			a := netip.AddrFrom4([4]byte{127, 0, 0, byte(i)})
			var s *testserver.Server
			s, err = testserver.Start(testserver.Options{Addr: netip.AddrPortFrom(a, uint16(port)).String(), Loops: 1})
			if err != nil {
				break
			}
			started = append(started, s)
			addrs = append(addrs, a)
			if port == 0 {
				port = int(netip.MustParseAddrPort(s.Addr()).Port())
			}
		}
		if err == nil {
			t.Cleanup(func() {
				for _, s := range started {
					s.Close()
				}
			})
			return addrs, port
		}
		for _, s := range started {
			s.Close()
		}
		if attempt == 5 {
			t.Fatal(err)
		}
	}
}

// TestFleetDNS checks that a fleet dialing one name resolves it once and spreads its
// connections over the addresses, and that DNSCacheTTL < 0 resolves per dial.
func TestFleetDNS(t *testing.T) {
	checkNoLeaks(t)
	addrs, port := loopbackServers(t, 4)
	resolver, asked := dnsServer(t, addrs)
	target := fmt.Sprintf("ws://%s:%d/echo", fleetName[:len(fleetName)-1], port)
	const dials = 40
	for _, ttl := range []time.Duration{0, -1} {
		asked.Store(0)
		eng, err := engine.New(engine.Options{Loops: 1, Resolver: resolver, DNSCacheTTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		per := map[string]int{}
		var wg sync.WaitGroup
		for range dials {
			wg.Add(1)
			dial := func() {
				defer wg.Done()
				c, err := eng.Dial(context.Background(), target, nil)
				if err != nil {
					t.Error(err)
					return
				}
				ip := c.RemoteAddr().(*net.TCPAddr).IP.String()
				mu.Lock()
				per[ip]++
				mu.Unlock()
				c.CloseNow()
			}
			if ttl == 0 {
				go dial() // at once: the dials that come during the lookup wait for it
			} else {
				dial() // one by one: Go's resolver merges concurrent lookups of a name
			}
		}
		wg.Wait()
		eng.Close()
		t.Logf("DNSCacheTTL %v: %d questions for %d dials, connections per address %v", ttl, asked.Load(), dials, per)
		if ttl == 0 {
			// One lookup: an A and an AAAA question (a retry would add some; never one per dial).
			if asked.Load() > 4 {
				t.Errorf("%d DNS questions for %d dials with the cache", asked.Load(), dials)
			}
			for _, a := range addrs {
				if per[a.String()] != dials/len(addrs) {
					t.Errorf("connections per address %v, want %d each", per, dials/len(addrs))
					break
				}
			}
		} else if asked.Load() < dials || len(per) != 1 {
			t.Errorf("%d DNS questions for %d dials without the cache, connections per address %v", asked.Load(), dials, per)
		}
	}
}

// TestDNSCacheExpires checks that a name is resolved again once DNSCacheTTL has passed.
func TestDNSCacheExpires(t *testing.T) {
	addrs, port := loopbackServers(t, 1)
	resolver, asked := dnsServer(t, addrs)
	eng, err := engine.New(engine.Options{Loops: 1, Resolver: resolver, DNSCacheTTL: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	target := fmt.Sprintf("ws://%s:%d/echo", fleetName[:len(fleetName)-1], port)
	dial := func() {
		c, err := eng.Dial(context.Background(), target, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.CloseNow()
	}
	dial()
	dial()
	once := asked.Load()
	time.Sleep(100 * time.Millisecond) // past the TTL
	dial()
	if again := asked.Load(); once == 0 || again != 2*once {
		t.Fatalf("questions: %d after two dials within the TTL, %d after one more past it", once, again)
	}
	// A name that does not resolve fails the dial with the resolver's error.
	_, err = eng.Dial(context.Background(), fmt.Sprintf("ws://nowhere.wsfleet.test:%d/", port), nil)
	var de *net.DNSError
	if !errors.As(err, &de) {
		t.Fatalf("unresolvable name: %v (%T)", err, err)
	}
}

// BenchmarkFleetDNS dials a name that resolves to four loopback addresses, one dial at a
// time (serial) and 32 at a time (parallel), with the engine's DNS cache and with a lookup per
// dial (DNSCacheTTL < 0), from an in-process DNS server: a lookup here costs a loopback UDP
// round trip and Go's resolver, a floor for a real one. dns-questions/op counts what the
// server was asked (Go's resolver merges concurrent lookups of one name, so parallel dials
// without the cache ask less than twice per dial).
func BenchmarkFleetDNS(b *testing.B) {
	addrs, port := loopbackServers(b, 4)
	resolver, asked := dnsServer(b, addrs)
	target := fmt.Sprintf("ws://%s:%d/echo", fleetName[:len(fleetName)-1], port)
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cache", 0}, {"lookup-per-dial", -1}} {
		for _, parallel := range []bool{false, true} {
			name := bc.name + "/serial"
			if parallel {
				name = bc.name + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				eng, err := engine.New(engine.Options{Resolver: resolver, DNSCacheTTL: bc.ttl})
				if err != nil {
					b.Fatal(err)
				}
				defer eng.Close()
				dial := func() bool {
					c, err := eng.Dial(context.Background(), target, nil)
					if err != nil {
						b.Error(err)
						return false
					}
					c.CloseNow()
					return true
				}
				b.ReportAllocs()
				asked.Store(0)
				start := time.Now()
				if parallel {
					b.SetParallelism(16)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() && dial() {
						}
					})
				} else {
					for i := 0; i < b.N && dial(); i++ {
					}
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "handshakes/s")
				b.ReportMetric(float64(asked.Load())/float64(b.N), "dns-questions/op")
			})
		}
	}
}

// TestDNSFallsBack checks that a dial whose turn falls on an address where nothing listens
// goes on to the next address of the name.
func TestDNSFallsBack(t *testing.T) {
	addrs, port := loopbackServers(t, 1)
	resolver, _ := dnsServer(t, append(addrs, netip.MustParseAddr("127.0.0.2")))
	eng, err := engine.New(engine.Options{Loops: 1, Resolver: resolver})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	target := fmt.Sprintf("ws://%s:%d/echo", fleetName[:len(fleetName)-1], port)
	for range 6 {
		c, err := eng.Dial(context.Background(), target, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ip := c.RemoteAddr().(*net.TCPAddr).IP.String(); ip != "127.0.0.1" {
			t.Errorf("connected to %s", ip)
		}
		c.CloseNow()
	}
}
