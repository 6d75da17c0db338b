package authz

import (
	"slices"
	"strings"
)

// Rule is one condition of an authorization policy on a request. Its
// Request has Principal without the "spiffe://" scheme and Namespace
// filled in, both empty without mutual TLS.
type Rule func(Request) bool

// pattern is a compiled Istio string pattern: exact, "prefix*",
// "*suffix", or "*" (any non-empty value).
type pattern struct {
	s    string
	kind uint8
}

const (
	patExact uint8 = iota
	patPrefix
	patSuffix
	patAny
)

func compilePattern(p string) pattern {
	switch {
	case p == "*":
		return pattern{kind: patAny}
	case strings.HasSuffix(p, "*"):
		return pattern{s: p[:len(p)-1], kind: patPrefix}
	case strings.HasPrefix(p, "*"):
		return pattern{s: p[1:], kind: patSuffix}
	default:
		return pattern{s: p}
	}
}

// match reports whether v matches; an empty v (no principal, no
// namespace) matches nothing, "*" included.
func (p pattern) match(v string) bool {
	if v == "" {
		return false
	}
	switch p.kind {
	case patAny:
		return true
	case patPrefix:
		return strings.HasPrefix(v, p.s)
	case patSuffix:
		return strings.HasSuffix(v, p.s)
	default:
		return v == p.s
	}
}

func compilePatterns(ps []string, trim string) []pattern {
	out := make([]pattern, len(ps))
	for i, p := range ps {
		out[i] = compilePattern(strings.TrimPrefix(p, trim))
	}
	return out
}

func anyPattern(ps []pattern, v string) bool {
	for _, p := range ps {
		if p.match(v) {
			return true
		}
	}
	return false
}

// Principals matches a request from a peer whose SPIFFE ID matches one of
// patterns ("cluster.local/ns/default/sa/web", with or without
// "spiffe://"; "*" prefix or suffix wildcards). Without mutual TLS there
// is no principal and nothing matches.
func Principals(patterns ...string) Rule {
	ps := compilePatterns(patterns, spiffeScheme)
	return func(r Request) bool { return anyPattern(ps, r.Principal) }
}

// Namespaces matches a request from a peer in one of the namespaces
// (with wildcards), read from its SPIFFE ID.
func Namespaces(patterns ...string) Rule {
	ps := compilePatterns(patterns, "")
	return func(r Request) bool { return anyPattern(ps, r.Namespace) }
}

// Paths matches a request whose normalized path, without its query,
// matches one of patterns (with wildcards).
func Paths(patterns ...string) Rule {
	ps := compilePatterns(patterns, "")
	return func(r Request) bool {
		p := r.Path
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return anyPattern(ps, p)
	}
}

// Methods matches a request whose method is one of methods, exactly.
func Methods(methods ...string) Rule {
	ms := slices.Clone(methods)
	return func(r Request) bool { return slices.Contains(ms, r.Method) }
}

// Ports matches a request to one of the workload's ports.
func Ports(ports ...uint32) Rule {
	ps := slices.Clone(ports)
	return func(r Request) bool { return slices.Contains(ps, uint32(r.Port)) }
}

// Not matches when rule does not.
func Not(rule Rule) Rule { return func(r Request) bool { return !rule(r) } }

// All matches when every rule matches (true for none).
func All(rules ...Rule) Rule {
	switch len(rules) {
	case 0:
		return Always
	case 1:
		return rules[0]
	}
	return func(r Request) bool {
		for _, rule := range rules {
			if !rule(r) {
				return false
			}
		}
		return true
	}
}

// AnyOf matches when some rule matches (false for none).
func AnyOf(rules ...Rule) Rule {
	switch len(rules) {
	case 0:
		return Never
	case 1:
		return rules[0]
	}
	return func(r Request) bool {
		for _, rule := range rules {
			if rule(r) {
				return true
			}
		}
		return false
	}
}

// Always matches every request.
func Always(Request) bool { return true }

// Never matches no request.
func Never(Request) bool { return false }
