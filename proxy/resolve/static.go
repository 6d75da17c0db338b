package resolve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Static marks endpoints of another resolver as meshed, from a fixed table:
// the proxy's way to know peers' identities before (or without) the
// destination service.
type Static struct {
	// Next resolves the endpoint first.
	Next Resolver
	// Table maps an endpoint to the identity its proxy presents.
	Table *Table
	// MeshPort is the peers' inbound port; default DefaultMeshPort.
	MeshPort uint16
}

// Resolve resolves with Next, then adds the identity from the table.
func (s Static) Resolve(ctx context.Context, target netip.AddrPort) (Endpoint, error) {
	ep, err := s.Next.Resolve(ctx, target)
	if err != nil || ep.Meshed() {
		return ep, err
	}
	if id, ok := s.Table.Lookup(ep.Addr); ok {
		ep.Identity, ep.MeshPort = id, s.MeshPort
	}
	return ep, nil
}

// Table maps addresses ("IP" for every port, or "IP:port") to SPIFFE IDs.
type Table struct {
	byAddr map[netip.Addr]spiffeid.ID
	byPort map[netip.AddrPort]spiffeid.ID
}

// Lookup returns the identity for ap: an entry for ap itself wins over one
// for its address.
func (t *Table) Lookup(ap netip.AddrPort) (spiffeid.ID, bool) {
	if t == nil {
		return spiffeid.ID{}, false
	}
	if id, ok := t.byPort[ap]; ok {
		return id, true
	}
	id, ok := t.byAddr[ap.Addr()]
	return id, ok
}

// Len returns the number of entries.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.byAddr) + len(t.byPort)
}

// ParseTable reads entries "ADDR=SPIFFE_ID", separated by commas or new
// lines; ADDR is an IP or IP:port ([IPv6]:port); blank lines and lines
// starting with # are skipped. Errors name the entry.
func ParseTable(r io.Reader) (*Table, error) {
	t := &Table{byAddr: map[netip.Addr]spiffeid.ID{}, byPort: map[netip.AddrPort]spiffeid.ID{}}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		for _, entry := range strings.Split(text, ",") {
			if entry = strings.TrimSpace(entry); entry == "" {
				continue
			}
			if err := t.add(entry); err != nil {
				return nil, fmt.Errorf("resolve: line %d: %w", line, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	return t, nil
}

func (t *Table) add(entry string) error {
	addr, id, ok := strings.Cut(entry, "=")
	if !ok {
		return fmt.Errorf("entry %q: want ADDR=SPIFFE_ID", entry)
	}
	sid, err := spiffeid.FromString(strings.TrimSpace(id))
	if err != nil {
		return fmt.Errorf("entry %q: %w", entry, err)
	}
	addr = strings.TrimSpace(addr)
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		t.byPort[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] = sid
		return nil
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return fmt.Errorf("entry %q: %q is neither IP nor IP:port", entry, addr)
	}
	t.byAddr[a.Unmap()] = sid
	return nil
}
