package route

import (
	"fmt"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// StringMatcher reports whether a value matches.
type StringMatcher func(string) bool

// Exact matches the value s exactly.
func Exact(s string) StringMatcher { return func(v string) bool { return v == s } }

// Prefix matches values that start with s.
func Prefix(s string) StringMatcher { return func(v string) bool { return strings.HasPrefix(v, s) } }

// Regex matches values matched entirely by the RE2 expression expr. The
// literal prefix every match must start with is checked first, so that
// most values a regex rejects cost a string comparison.
func Regex(expr string) (StringMatcher, error) {
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if un, err := regexp.Compile(expr); err == nil {
		var complete bool
		if prefix, complete = un.LiteralPrefix(); complete {
			return Exact(prefix), nil
		}
	}
	if prefix == "" {
		return re.MatchString, nil
	}
	return func(v string) bool { return strings.HasPrefix(v, prefix) && re.MatchString(v) }, nil
}

// Any matches every value.
func Any(string) bool { return true }

// compileString turns a proto StringMatch into a StringMatcher; nil (or a
// StringMatch with nothing set) matches anything.
func compileString(m *destinationv1.StringMatch) (StringMatcher, error) {
	switch k := m.GetKind().(type) {
	case *destinationv1.StringMatch_Exact:
		return Exact(k.Exact), nil
	case *destinationv1.StringMatch_Prefix:
		if k.Prefix == "" {
			return Any, nil
		}
		return Prefix(k.Prefix), nil
	case *destinationv1.StringMatch_Regex:
		sm, err := Regex(k.Regex)
		if err != nil {
			return nil, fmt.Errorf("regex %q: %w", k.Regex, err)
		}
		return sm, nil
	default:
		return Any, nil
	}
}

// Condition is one condition of a route on a request. path is the
// request's escaped path, computed once per Match.
type Condition func(r *http.Request, path string) bool

// Path matches the request's path (escaped, without the query).
func Path(m StringMatcher) Condition {
	return func(_ *http.Request, path string) bool { return m(path) }
}

// Method matches the request method.
func Method(m StringMatcher) Condition {
	return func(r *http.Request, _ string) bool { return m(r.Method) }
}

// Authority matches the request's Host (HTTP/1) or :authority (HTTP/2).
func Authority(m StringMatcher) Condition {
	return func(r *http.Request, _ string) bool { return m(r.Host) }
}

// Header matches a request whose header name is present and matches m
// (nil m: present). name is case-insensitive; "host" and ":authority"
// name the authority, ":method" the method and ":path" the path.
func Header(name string, m StringMatcher) Condition {
	switch strings.ToLower(name) {
	case "host", ":authority":
		return present(Authority, m)
	case ":method":
		return present(Method, m)
	case ":path":
		return present(Path, m)
	}
	key := textproto.CanonicalMIMEHeaderKey(name)
	return func(r *http.Request, _ string) bool {
		vv, ok := r.Header[key]
		if !ok {
			return false
		}
		if m == nil {
			return true
		}
		if len(vv) == 1 {
			return m(vv[0])
		}
		return m(strings.Join(vv, ","))
	}
}

func present(c func(StringMatcher) Condition, m StringMatcher) Condition {
	if m == nil {
		m = Any
	}
	return c(m)
}

// Query matches a request whose query parameter name is present and whose
// first value, as sent, matches m (nil m: present).
func Query(name string, m StringMatcher) Condition {
	return func(r *http.Request, _ string) bool {
		v, ok := queryValue(r.URL.RawQuery, name)
		return ok && (m == nil || m(v))
	}
}

// Not matches when c does not.
func Not(c Condition) Condition {
	return func(r *http.Request, path string) bool { return !c(r, path) }
}

// queryValue returns the first value of key in the raw query, as sent.
// Pairs are separated by "&"; a pair without "=" has the empty value.
func queryValue(raw, key string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// keyMatcher compiles a KeyMatch's value (nil when only presence is
// asked).
func keyMatcher(k *destinationv1.KeyMatch) (string, StringMatcher, error) {
	if k.GetName() == "" {
		return "", nil, fmt.Errorf("a header or query parameter match without a name")
	}
	if k.GetValue() == nil {
		return k.GetName(), nil, nil
	}
	m, err := compileString(k.GetValue())
	return k.GetName(), m, err
}

// compiledMatch is one HTTPMatch: all of conds, on port (0: any).
type compiledMatch struct {
	port  uint32
	conds []Condition
	// The path condition, for the rewrite: its kind and, for a prefix,
	// the prefix.
	pathPrefix string
	byPrefix   bool
	needPath   bool
}

func compileMatch(m *destinationv1.HTTPMatch) (compiledMatch, error) {
	cm := compiledMatch{port: m.GetPort()}
	add := func(c Condition) { cm.conds = append(cm.conds, c) }
	if p := m.GetPath(); p.GetKind() != nil {
		sm, err := compileString(p)
		if err != nil {
			return cm, fmt.Errorf("path: %w", err)
		}
		if pre, ok := p.GetKind().(*destinationv1.StringMatch_Prefix); ok {
			cm.pathPrefix, cm.byPrefix = pre.Prefix, true
		}
		add(Path(sm))
		cm.needPath = true
	}
	if m.GetMethod().GetKind() != nil {
		sm, err := compileString(m.GetMethod())
		if err != nil {
			return cm, fmt.Errorf("method: %w", err)
		}
		add(Method(sm))
	}
	if m.GetAuthority().GetKind() != nil {
		sm, err := compileString(m.GetAuthority())
		if err != nil {
			return cm, fmt.Errorf("authority: %w", err)
		}
		add(Authority(sm))
	}
	for _, h := range m.GetHeaders() {
		name, sm, err := keyMatcher(h)
		if err != nil {
			return cm, fmt.Errorf("header %q: %w", h.GetName(), err)
		}
		cm.needPath = cm.needPath || strings.EqualFold(name, ":path")
		add(Header(name, sm))
	}
	for _, q := range m.GetQueryParams() {
		name, sm, err := keyMatcher(q)
		if err != nil {
			return cm, fmt.Errorf("query parameter %q: %w", q.GetName(), err)
		}
		add(Query(name, sm))
	}
	for _, h := range m.GetWithoutHeaders() {
		name, sm, err := keyMatcher(h)
		if err != nil {
			return cm, fmt.Errorf("without header %q: %w", h.GetName(), err)
		}
		cm.needPath = cm.needPath || strings.EqualFold(name, ":path")
		add(Not(Header(name, sm)))
	}
	return cm, nil
}

func (cm *compiledMatch) matches(r *http.Request, port uint16, path string) bool {
	if cm.port != 0 && cm.port != uint32(port) {
		return false
	}
	for _, c := range cm.conds {
		if !c(r, path) {
			return false
		}
	}
	return true
}
