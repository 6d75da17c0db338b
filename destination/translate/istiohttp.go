package translate

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// vsMatch translates one HTTPMatchRequest.
func (c *checker) vsMatch(f string, m *networkingv1alpha3.HTTPMatchRequest) *destinationv1.HTTPMatch {
	if m == nil {
		c.bad(f, "must not be null")
		return nil
	}
	for _, u := range []struct {
		set        bool
		name, what string
	}{
		{m.Scheme != nil, "scheme", "matching on the scheme"},
		{len(m.SourceLabels) > 0, "sourceLabels", "matching on the caller's labels"},
		{len(m.Gateways) > 0, "gateways", "gateways"},
		{m.IgnoreUriCase, "ignoreUriCase", "case-insensitive URI matches; use a regex"},
		{m.SourceNamespace != "", "sourceNamespace", "matching on the caller's namespace"},
		{m.StatPrefix != "", "statPrefix", "stat prefixes"},
	} {
		if u.set {
			c.unsupported(field(f, u.name), u.what)
		}
	}
	hm := &destinationv1.HTTPMatch{
		Path:      c.stringMatch(field(f, "uri"), m.Uri, true),
		Method:    c.stringMatch(field(f, "method"), m.Method, true),
		Authority: c.stringMatch(field(f, "authority"), m.Authority, true),
		Port:      m.Port,
	}
	if m.Port != 0 {
		c.checkPort(field(f, "port"), m.Port)
	}
	hm.Headers = c.keyMatches(field(f, "headers"), m.Headers, true, true)
	hm.WithoutHeaders = c.keyMatches(field(f, "withoutHeaders"), m.WithoutHeaders, true, true)
	hm.QueryParams = c.keyMatches(field(f, "queryParams"), m.QueryParams, false, false)
	return hm
}

// stringMatch translates an Istio StringMatch; nil, or one without
// exact, prefix or regex, is no condition (for a header: presence).
func (c *checker) stringMatch(f string, m *networkingv1alpha3.StringMatch, prefixOK bool) *destinationv1.StringMatch {
	if m == nil {
		return nil
	}
	switch t := m.MatchType.(type) {
	case *networkingv1alpha3.StringMatch_Exact:
		return &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Exact{Exact: t.Exact}}
	case *networkingv1alpha3.StringMatch_Prefix:
		if !prefixOK {
			c.unsupported(field(f, "prefix"), "prefix matches of query parameters (Istio has none either); use exact or regex")
			return nil
		}
		return &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Prefix{Prefix: t.Prefix}}
	case *networkingv1alpha3.StringMatch_Regex:
		c.checkRegex(field(f, "regex"), t.Regex)
		return &destinationv1.StringMatch{Kind: &destinationv1.StringMatch_Regex{Regex: t.Regex}}
	}
	return nil
}

// keyMatches translates a map of header or query parameter matches, in
// name order; an empty match ({}) asks for presence.
func (c *checker) keyMatches(f string, ms map[string]*networkingv1alpha3.StringMatch, headers, prefixOK bool) []*destinationv1.KeyMatch {
	var out []*destinationv1.KeyMatch
	for _, k := range slices.Sorted(maps.Keys(ms)) {
		kf, name := key(f, k), k
		if headers {
			c.checkHeaderName(kf, k)
			name = strings.ToLower(k)
		} else if k == "" {
			c.bad(kf, "query parameter name must not be empty")
		}
		out = append(out, &destinationv1.KeyMatch{Name: name, Value: c.stringMatch(kf, ms[k], prefixOK)})
	}
	return out
}

// retryPolicies are the retryOn conditions meshlite implements (the
// proto's list); Istio's others are refused.
var retryPolicies = map[string]bool{
	"5xx": true, "gateway-error": true, "reset": true, "connect-failure": true, "retriable-4xx": true,
	"refused-stream": true, "retriable-status-codes": true,
	"cancelled": true, "deadline-exceeded": true, "internal": true, "resource-exhausted": true, "unavailable": true,
}

// istioRetryPolicies are Envoy's, which Istio accepts.
var istioRetryPolicies = map[string]bool{
	"reset-before-request": true, "retriable-headers": true, "envoy-ratelimited": true, "http3-post-connect-failure": true,
}

// DefaultRetryOn is Istio's retryOn when retries are set without it.
var DefaultRetryOn = []string{"connect-failure", "refused-stream", "unavailable", "cancelled"}

func (c *checker) vsRetry(f string, r *networkingv1alpha3.HTTPRetry) *destinationv1.Retry {
	if r == nil {
		return nil
	}
	for _, u := range []struct {
		set       bool
		name, why string
	}{
		{r.RetryRemoteLocalities != nil, "retryRemoteLocalities", ""},
		// A retry always goes to another endpoint when there is one.
		{r.RetryIgnorePreviousHosts != nil && !r.RetryIgnorePreviousHosts.GetValue(), "retryIgnorePreviousHosts",
			"only true (Istio's default): a retry always avoids the endpoints already tried when it can"},
		{r.Backoff != nil, "backoff", ""},
	} {
		if u.set {
			c.unsupported(field(f, u.name), u.why)
		}
	}
	if r.Attempts < 0 {
		c.bad(field(f, "attempts"), "%d is negative", r.Attempts)
		return nil
	}
	if r.Attempts == 0 {
		if r.PerTryTimeout != nil || r.RetryOn != "" {
			c.bad(f, "retries are configured but attempts is 0 (disabled)")
		}
		return &destinationv1.Retry{}
	}
	out := &destinationv1.Retry{Attempts: uint32(r.Attempts), PerTryTimeout: c.duration(field(f, "perTryTimeout"), r.PerTryTimeout)}
	if r.RetryOn == "" {
		out.RetryOn = slices.Clone(DefaultRetryOn)
		return out
	}
	for _, p := range strings.Split(r.RetryOn, ",") {
		p = strings.TrimSpace(p)
		code, err := strconv.Atoi(p)
		switch {
		case err == nil && http.StatusText(code) != "":
		case retryPolicies[p]:
		case istioRetryPolicies[p]:
			c.unsupported(field(f, "retryOn"), "retry condition "+strconv.Quote(p))
			continue
		default:
			c.bad(field(f, "retryOn"), "%q is not a retry condition or an HTTP status", p)
			continue
		}
		if !slices.Contains(out.RetryOn, p) {
			out.RetryOn = append(out.RetryOn, p)
		}
	}
	return out
}

// grpcCodes are the gRPC status names Istio accepts in a fault abort.
var grpcCodes = map[string]uint32{
	"CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
	"ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9,
	"ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14,
	"DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}

func (c *checker) vsFault(f string, ft *networkingv1alpha3.HTTPFaultInjection) *destinationv1.Fault {
	if ft == nil {
		return nil
	}
	if ft.Delay == nil && ft.Abort == nil {
		c.bad(f, "a fault needs a delay, an abort or both")
		return nil
	}
	out := &destinationv1.Fault{}
	if d := ft.Delay; d != nil {
		df := field(f, "delay")
		//lint:ignore SA1019 the deprecated integer percent is still accepted, as in Istio
		out.Delay = &destinationv1.Fault_Delay{Percentage: c.percentage(df, d.Percentage, d.Percent, "delayed")}
		switch t := d.HttpDelayType.(type) {
		case *networkingv1alpha3.HTTPFaultInjection_Delay_FixedDelay:
			out.Delay.FixedDelay = c.duration(field(df, "fixedDelay"), t.FixedDelay)
		case *networkingv1alpha3.HTTPFaultInjection_Delay_ExponentialDelay:
			c.unsupported(field(df, "exponentialDelay"), "use fixedDelay")
		default:
			c.bad(field(df, "fixedDelay"), "required")
		}
	}
	if a := ft.Abort; a != nil {
		af := field(f, "abort")
		out.Abort = &destinationv1.Fault_Abort{Percentage: c.percentage(af, a.Percentage, 0, "aborted")}
		switch t := a.ErrorType.(type) {
		case *networkingv1alpha3.HTTPFaultInjection_Abort_HttpStatus:
			if t.HttpStatus < 200 || t.HttpStatus > 599 {
				c.bad(field(af, "httpStatus"), "%d is not an HTTP status in 200-599", t.HttpStatus)
			}
			out.Abort.HttpStatus = uint32(max(t.HttpStatus, 0))
		case *networkingv1alpha3.HTTPFaultInjection_Abort_GrpcStatus:
			code, ok := grpcCodes[t.GrpcStatus]
			if !ok {
				c.bad(field(af, "grpcStatus"), "%q is not a gRPC status name such as UNAVAILABLE or NOT_FOUND", t.GrpcStatus)
			}
			out.Abort.GrpcStatus = code
		case *networkingv1alpha3.HTTPFaultInjection_Abort_Http2Error:
			c.unsupported(field(af, "http2Error"), "use httpStatus or grpcStatus")
		default:
			c.bad(af, "httpStatus or grpcStatus is required")
		}
	}
	return out
}

// percentage reads a fault's percentage (or the deprecated integer
// percent). Left out, it is 0, as in Istio: the fault never happens,
// which is worth a warning.
func (c *checker) percentage(f string, p *networkingv1alpha3.Percent, percent int32, what string) float64 {
	switch {
	case p != nil:
		if v := p.Value; v < 0 || v > 100 || (v > 0 && v < 0.0001) {
			c.bad(field(f, "percentage.value"), "%v is neither 0 nor in 0.0001-100", v)
		}
		return p.Value
	case percent != 0:
		if percent < 0 || percent > 100 {
			c.bad(field(f, "percent"), "%d is not in 0-100", percent)
		}
		return float64(percent)
	}
	c.warn(f, "no percentage: no request will be %s (as in Istio); add percentage: {value: 100}", what)
	return 0
}

func (c *checker) vsRewrite(f string, r *networkingv1alpha3.HTTPRewrite) *destinationv1.Rewrite {
	if r == nil {
		return nil
	}
	if r.UriRegexRewrite != nil {
		c.unsupported(field(f, "uriRegexRewrite"), "use uri")
	}
	if r.Uri == "" && r.Authority == "" && r.UriRegexRewrite == nil {
		c.bad(f, "uri or authority is required")
	}
	if r.Uri != "" && !strings.HasPrefix(r.Uri, "/") {
		c.bad(field(f, "uri"), "%q must start with /", r.Uri)
	}
	return &destinationv1.Rewrite{Uri: r.Uri, Authority: r.Authority}
}

func (c *checker) vsHeaders(f string, h *networkingv1alpha3.Headers) (req, resp *destinationv1.HeaderOps) {
	if h == nil {
		return nil, nil
	}
	return c.headerOps(field(f, "request"), h.Request, true), c.headerOps(field(f, "response"), h.Response, false)
}

func (c *checker) headerOps(f string, h *networkingv1alpha3.Headers_HeaderOperations, request bool) *destinationv1.HeaderOps {
	if h == nil {
		return nil
	}
	out := &destinationv1.HeaderOps{}
	for _, op := range []struct {
		name string
		in   map[string]string
		out  *map[string]string
	}{{"set", h.Set, &out.Set}, {"add", h.Add, &out.Add}} {
		for _, k := range slices.Sorted(maps.Keys(op.in)) {
			kf := key(field(f, op.name), k)
			c.checkHeaderOpName(kf, k, request)
			c.checkHeaderValue(kf, op.in[k])
			if *op.out == nil {
				*op.out = map[string]string{}
			}
			(*op.out)[strings.ToLower(k)] = op.in[k]
		}
	}
	for i, k := range h.Remove {
		c.checkHeaderOpName(index(field(f, "remove"), i), k, request)
		out.Remove = append(out.Remove, strings.ToLower(k))
	}
	return out
}
