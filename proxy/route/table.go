package route

import (
	"fmt"
	"net/http"
	"strings"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Table is a service's compiled routing policy. It is immutable and safe
// for concurrent use.
type Table struct {
	entries  []entry
	needPath bool // some entry matches on the path
	tcp      []*TCPRoute
	subsets  map[string]Subset
	policy   *destinationv1.Policy
	warnings []string
}

// entry is one HTTPMatch of one route, in order.
type entry struct {
	match compiledMatch
	route *Route
}

// Subset is a named group of the service's endpoints.
type Subset struct {
	Name string
	// Labels an endpoint must all carry to belong to the subset. Do not
	// modify.
	Labels map[string]string
}

// Matches reports whether an endpoint with labels belongs to the subset.
func (s Subset) Matches(labels map[string]string) bool { return SubsetMatches(labels, s.Labels) }

// SubsetMatches reports whether labels carry every label of subset (an
// empty subset matches every endpoint).
func SubsetMatches(labels, subset map[string]string) bool {
	for k, v := range subset {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Compile turns a service's policy into a Table. A nil policy gives an
// empty Table: every request and connection goes to the service itself.
func Compile(p *destinationv1.Policy) (*Table, error) {
	t := &Table{subsets: make(map[string]Subset, len(p.GetSubsets())), policy: p}
	for _, s := range p.GetSubsets() {
		if s.GetName() == "" {
			return nil, fmt.Errorf("route: a subset without a name")
		}
		if _, dup := t.subsets[s.GetName()]; dup {
			t.warn("subset %q defined twice; the first wins", s.GetName())
			continue
		}
		t.subsets[s.GetName()] = Subset{Name: s.GetName(), Labels: s.GetLabels()}
	}
	for i, hr := range p.GetHttpRoutes() {
		if err := t.addHTTP(i, hr); err != nil {
			return nil, fmt.Errorf("route: http route %d %q: %w", i, hr.GetName(), err)
		}
	}
	for i, tr := range p.GetTcpRoutes() {
		bs, err := t.compileBackends(tr.GetBackends())
		if err != nil {
			return nil, fmt.Errorf("route: tcp route %d: %w", i, err)
		}
		t.tcp = append(t.tcp, &TCPRoute{port: tr.GetPort(), backendSet: bs})
	}
	return t, nil
}

func (t *Table) addHTTP(i int, hr *destinationv1.HTTPRoute) error {
	rt, err := t.compileRoute(hr)
	if err != nil {
		return err
	}
	if rt.name == "" {
		rt.name = fmt.Sprintf("route-%d", i)
	}
	if len(hr.GetMatches()) == 0 {
		t.entries = append(t.entries, entry{route: rt})
		return nil
	}
	for j, m := range hr.GetMatches() {
		cm, err := compileMatch(m)
		if err != nil {
			return fmt.Errorf("match %d: %w", j, err)
		}
		// Each match gets its own copy of the route, which knows the path
		// prefix to rewrite.
		r := *rt
		r.matchedPrefix, r.prefixRewrite = cm.pathPrefix, cm.byPrefix
		t.entries = append(t.entries, entry{match: cm, route: &r})
		t.needPath = t.needPath || cm.needPath
	}
	return nil
}

// Match returns the route that serves r, which arrived for the service
// port: the first route that matches, or nil when none does (the request
// goes to the service itself). It allocates nothing, unless a header
// matched on is sent several times or the path has escapes that Go
// decoded.
func (t *Table) Match(r *http.Request, port uint16) *Route {
	if t == nil {
		return nil
	}
	var path string
	if t.needPath {
		path = r.URL.EscapedPath()
	}
	for i := range t.entries {
		e := &t.entries[i]
		if e.match.matches(r, port, path) {
			return e.route
		}
	}
	return nil
}

// MatchTCP returns the TCP route for a connection to the service port:
// the first whose port is 0 or port, or nil (the service itself).
func (t *Table) MatchTCP(port uint16) *TCPRoute {
	if t == nil {
		return nil
	}
	for _, tr := range t.tcp {
		if tr.port == 0 || tr.port == uint32(port) {
			return tr
		}
	}
	return nil
}

// Subset returns the subset named name.
func (t *Table) Subset(name string) (Subset, bool) {
	if t == nil {
		return Subset{}, false
	}
	s, ok := t.subsets[name]
	return s, ok
}

// Warnings lists what Compile ignored or had to guess, for logs.
func (t *Table) Warnings() []string {
	if t == nil {
		return nil
	}
	return append([]string(nil), t.warnings...)
}

func (t *Table) warn(format string, args ...any) {
	t.warnings = append(t.warnings, fmt.Sprintf(format, args...))
}

// TCPRoute splits opaque connections among backends.
type TCPRoute struct {
	port uint32
	backendSet
}

// compileBackends checks and normalizes a route's backends.
func (t *Table) compileBackends(in []*destinationv1.Backend) (backendSet, error) {
	var bs backendSet
	for _, b := range in {
		if b.GetPort() > 65535 {
			return bs, fmt.Errorf("backend %q port %d out of range", b.GetService(), b.GetPort())
		}
		if sub := b.GetSubset(); sub != "" && b.GetService() == "" {
			if _, ok := t.subsets[sub]; !ok {
				t.warn("backend subset %q is not defined; requests to it find no endpoints", sub)
			}
		}
		bs.backends = append(bs.backends, Backend{
			Service: strings.TrimSpace(b.GetService()),
			Port:    uint16(b.GetPort()),
			Subset:  b.GetSubset(),
			Weight:  b.GetWeight(),
		})
	}
	bs.weigh()
	return bs, nil
}
