package translate

import (
	"fmt"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// urlRewrite is a rule's URLRewrite filter, applied per match variant.
type urlRewrite struct {
	authority string
	path      *gatewayv1.HTTPPathModifier
}

const maxFilters = 16

// routeFilters translates a rule's filters: the header modifiers go on
// rt, a URL rewrite is returned to be applied to each match.
func (c *checker) routeFilters(f string, filters []gatewayv1.HTTPRouteFilter, rt *destinationv1.HTTPRoute) *urlRewrite {
	if len(filters) > maxFilters {
		c.bad(f, "%d filters, at most %d", len(filters), maxFilters)
	}
	seen := map[gatewayv1.HTTPRouteFilterType]int{}
	var rw *urlRewrite
	for i, flt := range filters {
		ff := index(f, i)
		if j, dup := seen[flt.Type]; dup {
			c.bad(field(ff, "type"), "a %s filter is already at [%d]: it cannot be repeated", flt.Type, j)
			continue
		}
		seen[flt.Type] = i
		set := map[string]bool{
			"requestHeaderModifier": flt.RequestHeaderModifier != nil, "responseHeaderModifier": flt.ResponseHeaderModifier != nil,
			"requestMirror": flt.RequestMirror != nil, "requestRedirect": flt.RequestRedirect != nil,
			"urlRewrite": flt.URLRewrite != nil, "cors": flt.CORS != nil, "externalAuth": flt.ExternalAuth != nil,
			"extensionRef": flt.ExtensionRef != nil,
		}
		want := map[gatewayv1.HTTPRouteFilterType]string{
			gatewayv1.HTTPRouteFilterRequestHeaderModifier: "requestHeaderModifier", gatewayv1.HTTPRouteFilterResponseHeaderModifier: "responseHeaderModifier",
			gatewayv1.HTTPRouteFilterRequestMirror: "requestMirror", gatewayv1.HTTPRouteFilterRequestRedirect: "requestRedirect",
			gatewayv1.HTTPRouteFilterURLRewrite: "urlRewrite", gatewayv1.HTTPRouteFilterCORS: "cors",
			gatewayv1.HTTPRouteFilterExternalAuth: "externalAuth", gatewayv1.HTTPRouteFilterExtensionRef: "extensionRef",
		}[flt.Type]
		if want == "" {
			c.bad(field(ff, "type"), "%q is not a filter type", flt.Type)
			continue
		}
		for name, isSet := range set {
			if isSet && name != want {
				c.bad(field(ff, name), "must not be set for a %s filter", flt.Type)
			}
		}
		if !set[want] {
			c.bad(field(ff, want), "required for a %s filter", flt.Type)
			continue
		}
		switch flt.Type {
		case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
			rt.RequestHeaders = c.gwHeaderOps(field(ff, want), flt.RequestHeaderModifier, true)
		case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
			rt.ResponseHeaders = c.gwHeaderOps(field(ff, want), flt.ResponseHeaderModifier, false)
		case gatewayv1.HTTPRouteFilterURLRewrite:
			rw = c.gwRewrite(field(ff, want), flt.URLRewrite)
		default:
			c.unsupported(field(ff, "type"), fmt.Sprintf("the %s filter", flt.Type))
		}
	}
	return rw
}

func (c *checker) gwHeaderOps(f string, h *gatewayv1.HTTPHeaderFilter, request bool) *destinationv1.HeaderOps {
	out := &destinationv1.HeaderOps{}
	seen := map[string]string{}
	for _, op := range []struct {
		name string
		hs   []gatewayv1.HTTPHeader
		out  *map[string]string
	}{{"set", h.Set, &out.Set}, {"add", h.Add, &out.Add}} {
		if len(op.hs) > maxKeyMatches {
			c.bad(field(f, op.name), "%d headers, at most %d", len(op.hs), maxKeyMatches)
		}
		for i, hd := range op.hs {
			hf := index(field(f, op.name), i)
			name := strings.ToLower(string(hd.Name))
			if !headerNameGW.MatchString(string(hd.Name)) {
				c.bad(field(hf, "name"), "%q is not a valid header name", hd.Name)
			}
			c.checkHeaderOpName(field(hf, "name"), string(hd.Name), request)
			if at, dup := seen[name]; dup {
				c.bad(field(hf, "name"), "header %q is also changed at %s", hd.Name, at)
			}
			seen[name] = hf
			if hd.Value == "" || len(hd.Value) > 4096 {
				c.bad(field(hf, "value"), "must be 1-4096 characters long")
			}
			c.checkHeaderValue(field(hf, "value"), hd.Value)
			if *op.out == nil {
				*op.out = map[string]string{}
			}
			(*op.out)[name] = hd.Value
		}
	}
	for i, name := range h.Remove {
		c.checkHeaderOpName(index(field(f, "remove"), i), name, request)
		out.Remove = append(out.Remove, strings.ToLower(name))
	}
	return out
}

func (c *checker) gwRewrite(f string, u *gatewayv1.HTTPURLRewriteFilter) *urlRewrite {
	rw := &urlRewrite{}
	if u.Hostname != nil {
		h := string(*u.Hostname)
		if !hostnameRE.MatchString(h) {
			c.bad(field(f, "hostname"), "%q is not a host name", h)
		}
		rw.authority = h
	}
	if p := u.Path; p != nil {
		pf := field(f, "path")
		switch p.Type {
		case gatewayv1.FullPathHTTPPathModifier:
			if p.ReplaceFullPath == nil || p.ReplacePrefixMatch != nil {
				c.bad(pf, "ReplaceFullPath needs replaceFullPath, and only it")
			}
		case gatewayv1.PrefixMatchHTTPPathModifier:
			if p.ReplacePrefixMatch == nil || p.ReplaceFullPath != nil {
				c.bad(pf, "ReplacePrefixMatch needs replacePrefixMatch, and only it")
			}
		default:
			c.bad(field(pf, "type"), "%q is not ReplaceFullPath or ReplacePrefixMatch", p.Type)
		}
		rw.path = p
	}
	return rw
}

// hostnameRE is Gateway API's PreciseHostname.
var hostnameRE = dnsSubdomainRE

// applyRewrite makes the Rewrite of one match variant: a prefix
// replacement becomes the replacement for the path itself and the
// replacement followed by / for the longer paths, so that /foo → /bar
// rewrites /foo/x to /bar/x as Gateway API says.
func (c *checker) applyRewrite(f string, rw *urlRewrite, v matchVariant) *destinationv1.Rewrite {
	out := &destinationv1.Rewrite{Authority: rw.authority}
	p := rw.path
	if p == nil {
		return out
	}
	switch p.Type {
	case gatewayv1.PrefixMatchHTTPPathModifier:
		if p.ReplacePrefixMatch == nil {
			return out
		}
		repl := strings.TrimRight(*p.ReplacePrefixMatch, "/")
		switch v.kind {
		case "exact":
			out.Uri = repl
			if repl == "" {
				out.Uri = "/"
			}
		case "prefix":
			out.Uri = repl + "/"
		default:
			c.bad(f, "ReplacePrefixMatch needs a PathPrefix match")
		}
	case gatewayv1.FullPathHTTPPathModifier:
		if p.ReplaceFullPath == nil {
			return out
		}
		if v.kind != "exact" || v.match.GetPath().GetExact() == "" {
			c.unsupported(f, "ReplaceFullPath with a PathPrefix or RegularExpression match: meshlite rewrites the matched prefix (use ReplacePrefixMatch) or a whole Exact path")
			return out
		}
		out.Uri = *p.ReplaceFullPath
	}
	return out
}
