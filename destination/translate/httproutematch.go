package translate

import (
	"cmp"
	"regexp"
	"strings"

	"google.golang.org/protobuf/proto"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// matchRank orders Gateway API matches: exact paths first, then path
// prefixes (longest first), then regular expressions (as Istio orders
// them), then a method match, more header matches, more query matches.
type matchRank struct {
	pathKind         int // 3 exact, 2 prefix, 1 regex
	pathLen          int
	method           bool
	headers, queries int
}

// compare is negative when r goes before o.
func (r matchRank) compare(o matchRank) int {
	if c := cmp.Compare(o.pathKind, r.pathKind); c != 0 {
		return c
	}
	if c := cmp.Compare(o.pathLen, r.pathLen); c != 0 {
		return c
	}
	if r.method != o.method {
		if r.method {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(o.headers, r.headers); c != 0 {
		return c
	}
	return cmp.Compare(o.queries, r.queries)
}

// matchVariant is one HTTPMatch a Gateway API match becomes.
type matchVariant struct {
	match *destinationv1.HTTPMatch
	// kind is the variant's path match: "exact" (an Exact path, or a
	// PathPrefix's path itself), "prefix" (a PathPrefix's path followed by
	// /) or "regex".
	kind string
}

var (
	// headerNameGW is Gateway API's HeaderName syntax.
	headerNameGW = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+\\-.^_\x60|~]+$")
	// pathCharsRE is the characters of an Exact or PathPrefix path.
	pathCharsRE = regexp.MustCompile(`^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$`)
)

const maxKeyMatches = 16

// routeMatch translates one match into its variants and rank.
func (c *checker) routeMatch(f string, m *gatewayv1.HTTPRouteMatch) ([]matchVariant, matchRank) {
	base := &destinationv1.HTTPMatch{}
	var rank matchRank
	if m.Method != nil {
		switch *m.Method {
		case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH":
		default:
			c.bad(field(f, "method"), "%q is not an HTTP method (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH)", *m.Method)
		}
		base.Method = &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Exact{Exact: string(*m.Method)}}
		rank.method = true
	}
	base.Headers = c.gwKeyMatches(field(f, "headers"), m.Headers, true)
	base.QueryParams = c.gwQueryMatches(field(f, "queryParams"), m.QueryParams)
	rank.headers, rank.queries = len(base.Headers), len(base.QueryParams)

	typ, value := gatewayv1.PathMatchPathPrefix, "/"
	if p := m.Path; p != nil {
		if p.Type != nil {
			typ = *p.Type
		}
		if p.Value != nil {
			value = *p.Value
		}
	}
	pf := field(f, "path")
	with := func(sm *destinationv1.StringMatch, kind string) matchVariant {
		v := proto.Clone(base).(*destinationv1.HTTPMatch)
		v.Path = sm
		return matchVariant{match: v, kind: kind}
	}
	rank.pathLen = len(value)
	switch typ {
	case gatewayv1.PathMatchExact:
		c.checkPath(field(pf, "value"), value)
		rank.pathKind = 3
		return []matchVariant{with(exactMatch(value), "exact")}, rank
	case gatewayv1.PathMatchPathPrefix:
		c.checkPath(field(pf, "value"), value)
		rank.pathKind = 2
		// Gateway API prefixes match whole path elements: /foo matches
		// /foo and /foo/bar, not /foobar; a trailing / is ignored.
		trimmed := strings.TrimRight(value, "/")
		if trimmed == "" {
			return []matchVariant{with(prefixMatch("/"), "prefix")}, rank
		}
		return []matchVariant{with(exactMatch(trimmed), "exact"), with(prefixMatch(trimmed+"/"), "prefix")}, rank
	case gatewayv1.PathMatchRegularExpression:
		c.checkRegex(field(pf, "value"), value)
		rank.pathKind = 1
		return []matchVariant{with(&destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Regex{Regex: value}}, "regex")}, rank
	}
	c.bad(field(pf, "type"), "%q is not Exact, PathPrefix or RegularExpression", typ)
	return nil, rank
}

func exactMatch(s string) *destinationv1.StringMatch {
	return &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Exact{Exact: s}}
}

func prefixMatch(s string) *destinationv1.StringMatch {
	return &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Prefix{Prefix: s}}
}

// checkPath applies Gateway API's rules for Exact and PathPrefix values.
func (c *checker) checkPath(f, v string) {
	switch {
	case len(v) > 1024:
		c.bad(f, "path is %d bytes long, at most 1024", len(v))
	case !strings.HasPrefix(v, "/"):
		c.bad(f, "%q must be an absolute path starting with /", v)
	case strings.Contains(v, "//"), strings.Contains(v, "/./"), strings.Contains(v, "/../"),
		strings.Contains(strings.ToLower(v), "%2f"), strings.Contains(v, "#"),
		strings.HasSuffix(v, "/.."), strings.HasSuffix(v, "/."):
		c.bad(f, "%q must not contain //, /./, /../, %%2f or # nor end with /. or /..", v)
	case !pathCharsRE.MatchString(v):
		c.bad(f, "%q has characters a path cannot have", v)
	}
}

func (c *checker) gwKeyMatches(f string, hs []gatewayv1.HTTPHeaderMatch, lower bool) []*destinationv1.KeyMatch {
	if len(hs) > maxKeyMatches {
		c.bad(f, "%d matches, at most %d", len(hs), maxKeyMatches)
	}
	seen := map[string]int{}
	var out []*destinationv1.KeyMatch
	for i, h := range hs {
		hf := index(f, i)
		regex := false
		if h.Type != nil {
			switch *h.Type {
			case gatewayv1.HeaderMatchExact:
			case gatewayv1.HeaderMatchRegularExpression:
				regex = true
			default:
				c.bad(field(hf, "type"), "%q is not Exact or RegularExpression", *h.Type)
			}
		}
		out = append(out, c.gwKeyMatch(hf, i, string(h.Name), h.Value, regex, lower, seen))
	}
	return out
}

func (c *checker) gwQueryMatches(f string, qs []gatewayv1.HTTPQueryParamMatch) []*destinationv1.KeyMatch {
	hs := make([]gatewayv1.HTTPHeaderMatch, len(qs))
	for i, q := range qs {
		hs[i] = gatewayv1.HTTPHeaderMatch{Name: q.Name, Value: q.Value}
		if q.Type != nil {
			t := gatewayv1.HeaderMatchType(*q.Type)
			hs[i].Type = &t
		}
	}
	return c.gwKeyMatches(f, hs, false)
}

func (c *checker) gwKeyMatch(f string, i int, name, value string, regex, lower bool, seen map[string]int) *destinationv1.KeyMatch {
	const maxLen = 4096
	if !headerNameGW.MatchString(name) {
		c.bad(field(f, "name"), "%q is not a valid name", name)
	}
	k := name
	if lower {
		k = strings.ToLower(name)
	}
	if j, dup := seen[k]; dup {
		c.bad(field(f, "name"), "%q is also matched at [%d]", name, j)
	}
	seen[k] = i
	if value == "" || len(value) > maxLen {
		c.bad(field(f, "value"), "must be 1-%d characters long", maxLen)
	}
	km := &destinationv1.KeyMatch{Name: k, Value: exactMatch(value)}
	if regex {
		c.checkRegex(field(f, "value"), value)
		km.Value = &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Regex{Regex: value}}
	}
	return km
}

func cloneRoute(r *destinationv1.HTTPRoute) *destinationv1.HTTPRoute {
	return proto.Clone(r).(*destinationv1.HTTPRoute)
}
