package resolve

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

func TestStatic(t *testing.T) {
	table, err := ParseTable(strings.NewReader(`
# peers
10.0.0.1=spiffe://example.org/ns/default/sa/web, 10.0.0.2:9090=spiffe://example.org/ns/default/sa/api
[fd00::1]:80=spiffe://example.org/ns/x/sa/y
`))
	if err != nil {
		t.Fatal(err)
	}
	s := Static{Next: OrigDst, Table: table, MeshPort: 4143}
	for _, tc := range []struct{ target, id string }{
		{"10.0.0.1:80", "spiffe://example.org/ns/default/sa/web"},
		{"10.0.0.1:8080", "spiffe://example.org/ns/default/sa/web"},
		{"10.0.0.2:9090", "spiffe://example.org/ns/default/sa/api"},
		{"10.0.0.2:80", ""},
		{"[fd00::1]:80", "spiffe://example.org/ns/x/sa/y"},
		{"10.9.9.9:80", ""},
	} {
		ep, err := s.Resolve(context.Background(), netip.MustParseAddrPort(tc.target))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if ep.Meshed() {
			got = ep.Identity.String()
			if ep.MeshAddr() != netip.AddrPortFrom(ep.Addr.Addr(), 4143) {
				t.Errorf("%s: mesh addr %v", tc.target, ep.MeshAddr())
			}
		}
		if got != tc.id {
			t.Errorf("%s: identity %q, want %q", tc.target, got, tc.id)
		}
	}
	for _, bad := range []string{"10.0.0.1", "10.0.0.1=web", "nohost=spiffe://example.org/x", "10.0.0.1:99999=spiffe://a/b"} {
		if _, err := ParseTable(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ParseTable(%q) = %v, want an error naming line 1", bad, err)
		}
	}
}
