package translate

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"k8s.io/apimachinery/pkg/util/validation"
)

// resolveHost turns a host as written in a resource of namespace ns into
// a service key "name.namespace": "reviews" (in ns), "reviews.prod",
// "reviews.prod.svc" or "reviews.prod.svc.<cluster domain>". Anything
// else is not a service of this cluster and is refused with the reason.
func (o Options) resolveHost(host, ns string) (string, error) {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	switch {
	case h == "":
		return "", fmt.Errorf("required")
	case strings.Contains(h, "*"):
		return "", fmt.Errorf("wildcard host %q is not supported: meshlite routes services of the mesh only, named name, name.namespace or name.namespace.svc.%s", host, o.ClusterDomain)
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return "", fmt.Errorf("%q is an IP address: name a service (name, name.namespace or name.namespace.svc.%s)", host, o.ClusterDomain)
	}
	h = strings.TrimSuffix(h, ".svc."+strings.ToLower(strings.Trim(o.ClusterDomain, ".")))
	h = strings.TrimSuffix(h, ".svc")
	parts := strings.Split(h, ".")
	name, namespace := parts[0], ns
	switch len(parts) {
	case 1:
	case 2:
		namespace = parts[1]
	default:
		return "", fmt.Errorf("%q is not a service of this cluster (want name, name.namespace or name.namespace.svc.%s): meshlite routes services of the mesh only", host, o.ClusterDomain)
	}
	if errs := validation.IsDNS1035Label(name); len(errs) > 0 {
		return "", fmt.Errorf("%q: service name %q: %s", host, name, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return "", fmt.Errorf("%q: namespace %q: %s", host, namespace, strings.Join(errs, "; "))
	}
	return name + "." + namespace, nil
}

// maxRegexLen is Istio's limit on a regex's length.
const maxRegexLen = 1024

// checkRegex compiles re with Go's RE2, as the proxy will.
func (c *checker) checkRegex(f, re string) {
	switch {
	case re == "":
		c.bad(f, "regex must not be empty")
	case len(re) > maxRegexLen:
		c.bad(f, "regex is %d bytes long, at most %d", len(re), maxRegexLen)
	default:
		if _, err := regexp.Compile(re); err != nil {
			c.bad(f, "bad regex %q: %v (RE2 syntax, https://github.com/google/re2/wiki/Syntax)", re, err)
		}
	}
}

// headerNameRE is Istio's header name syntax for matches.
var headerNameRE = regexp.MustCompile(`^[-_A-Za-z0-9]+$`)

func (c *checker) checkHeaderName(f, name string) {
	if !headerNameRE.MatchString(name) {
		c.bad(f, "%q is not a valid header name", name)
	}
}

// checkHeaderOpName checks the name of a header to set, add or remove
// (Istio's rules): not empty, no pseudo-header, and Host only through
// an authority rewrite.
func (c *checker) checkHeaderOpName(f, name string, request bool) {
	switch {
	case name == "":
		c.bad(f, "header name must not be empty")
	case strings.HasPrefix(name, ":"):
		c.bad(f, "header %q: pseudo-headers (\":\" prefix) cannot be changed", name)
	case strings.EqualFold(name, "host"):
		if request {
			c.bad(f, "header %q: use rewrite.authority to change the authority", name)
		} else {
			c.bad(f, "header %q cannot be changed", name)
		}
	}
}

// headerValueRE refuses control characters other than tab.
var headerValueRE = regexp.MustCompile("^[^\u0000-\u0008\u000A-\u001F\u007F]*$")

func (c *checker) checkHeaderValue(f, v string) {
	if !headerValueRE.MatchString(v) {
		c.bad(f, "header value %q has control characters", v)
	}
}

// duration checks an Istio duration: at least 1ms, as Istio's CRDs
// require.
func (c *checker) duration(f string, d *durationpb.Duration) *durationpb.Duration {
	if d == nil {
		return nil
	}
	if err := d.CheckValid(); err != nil {
		c.bad(f, "%v", err)
		return nil
	}
	if d.AsDuration() < time.Millisecond {
		c.bad(f, "%v is too short: at least 1ms", d.AsDuration())
		return nil
	}
	return durationpb.New(d.AsDuration())
}

// checkLabels checks a label selector's keys and values.
func (c *checker) checkLabels(f string, labels map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			c.bad(key(f, k), "key %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			c.bad(key(f, k), "value %q: %s", labels[k], strings.Join(errs, "; "))
		}
	}
}

// checkPort checks a port number.
func (c *checker) checkPort(f string, p uint32) {
	if p < 1 || p > 65535 {
		c.bad(f, "%d is out of range (1-65535)", p)
	}
}

// checkExportTo accepts only exporting to every namespace: meshlite has
// no per-namespace visibility.
func (c *checker) checkExportTo(f string, to []string) {
	for i, ns := range to {
		if ns != "*" {
			c.unsupported(index(f, i), fmt.Sprintf("%q: configuration is visible to every namespace (only \"*\" is accepted)", ns))
		}
	}
}

// matchesSelector reports whether labels satisfy selector; an empty
// selector matches every workload.
func matchesSelector(selector, labels map[string]string) bool {
	for k, v := range selector {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// dnsLabelRE is an RFC 1123 label.
var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// dnsSubdomainRE is an RFC 1123 subdomain (Gateway API's Hostname
// without wildcards).
var dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
