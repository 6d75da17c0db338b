package inject

import (
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/meshlite/meshlite/init/redirect"
	"github.com/meshlite/meshlite/internal/logging"
)

// Annotations users set, on a Namespace, a workload (metadata) or its pod
// template; the pod template's wins over the workload's, which wins over
// the namespace's, which wins over Options.Proxy.
const (
	// AnnotationInject "disabled" skips the workload; "enabled" injects it
	// even in a namespace where it is disabled.
	AnnotationInject = "meshlite.io/inject"
	// AnnotationSkipInboundPorts: ports and ranges whose incoming
	// connections bypass the proxy ("25,8000-8010").
	AnnotationSkipInboundPorts = "meshlite.io/skip-inbound-ports"
	// AnnotationSkipOutboundPorts: the same for outgoing connections.
	AnnotationSkipOutboundPorts = "meshlite.io/skip-outbound-ports"
	// AnnotationOpaquePorts: destination ports the proxy relays as TCP
	// without protocol detection; replaces the proxy's default list.
	AnnotationOpaquePorts = "meshlite.io/opaque-ports"
	// AnnotationProxyLogLevel: the proxy's log level.
	AnnotationProxyLogLevel = "meshlite.io/proxy-log-level"
	// AnnotationProxyCPURequest and the three below: the proxy's resources.
	AnnotationProxyCPURequest    = "meshlite.io/proxy-cpu-request"
	AnnotationProxyCPULimit      = "meshlite.io/proxy-cpu-limit"
	AnnotationProxyMemoryRequest = "meshlite.io/proxy-memory-request"
	AnnotationProxyMemoryLimit   = "meshlite.io/proxy-memory-limit"
	// AnnotationProxyUID: the uid the proxy runs as.
	AnnotationProxyUID = "meshlite.io/proxy-uid"
	// AnnotationProxyAwait "disabled": the app does not wait for the
	// proxy's certificate before starting.
	AnnotationProxyAwait = "meshlite.io/proxy-await"
)

// Annotations inject writes on the pod template (do not set them).
const (
	// AnnotationProxyVersion marks a pod as meshed for meshlite-destination
	// (destination/kube.ProxyVersionAnnotation).
	AnnotationProxyVersion = "meshlite.io/proxy-version"
	// AnnotationStatus records, as JSON, what inject added, so that
	// Uninject removes exactly that.
	AnnotationStatus = "meshlite.io/inject-status"
	// AnnotationTrustAnchors holds the trust anchors when they are embedded
	// (Options.TrustAnchorsPEM).
	AnnotationTrustAnchors = "meshlite.io/trust-anchors"
)

// Labels inject writes on the pod template.
const (
	// LabelControlPlaneNamespace names the control plane's namespace.
	LabelControlPlaneNamespace = "meshlite.io/control-plane-ns"
	// LabelWorkloadPrefix + the lower-case kind ("meshlite.io/proxy-deployment")
	// names the workload.
	LabelWorkloadPrefix = "meshlite.io/proxy-"
)

// settings are the tunables of one workload, after every layer.
type settings struct {
	inject      string // "", "enabled", "disabled"
	injectWhere string // where inject was last set
	logLevel    string
	cpuRequest  string
	cpuLimit    string
	memRequest  string
	memLimit    string
	uid         int64
	opaquePorts string
	skipIn      string
	skipOut     string
	noAwait     bool
}

func (p ProxyConfig) settings() settings {
	return settings{
		logLevel: p.LogLevel, cpuRequest: p.CPURequest, cpuLimit: p.CPULimit,
		memRequest: p.MemoryRequest, memLimit: p.MemoryLimit, uid: p.UID,
		opaquePorts: p.OpaquePorts, skipIn: p.SkipInboundPorts, skipOut: p.SkipOutboundPorts,
		noAwait: p.NoAwait,
	}
}

// apply overrides s with the annotations a, read on where, and checks
// every value (also those it did not change).
func (s settings) apply(a map[string]string, where string) (settings, error) {
	var errs []error
	bad := func(key, value string, err error) {
		errs = append(errs, &AnnotationError{Key: key, Value: value, Where: where, Err: err})
	}
	if v, ok := a[AnnotationInject]; ok {
		switch v {
		case "enabled", "disabled":
			s.inject, s.injectWhere = v, where
		default:
			bad(AnnotationInject, v, errors.New("want enabled or disabled"))
		}
	}
	if v, ok := a[AnnotationProxyAwait]; ok {
		switch v {
		case "enabled", "disabled":
			s.noAwait = v == "disabled"
		default:
			bad(AnnotationProxyAwait, v, errors.New("want enabled or disabled"))
		}
	}
	if v, ok := a[AnnotationProxyUID]; ok {
		uid, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			bad(AnnotationProxyUID, v, errors.New("not a number"))
		} else {
			s.uid = uid
		}
	}
	for _, f := range []struct {
		key   string
		field *string
	}{
		{AnnotationProxyLogLevel, &s.logLevel},
		{AnnotationProxyCPURequest, &s.cpuRequest}, {AnnotationProxyCPULimit, &s.cpuLimit},
		{AnnotationProxyMemoryRequest, &s.memRequest}, {AnnotationProxyMemoryLimit, &s.memLimit},
		{AnnotationOpaquePorts, &s.opaquePorts},
		{AnnotationSkipInboundPorts, &s.skipIn}, {AnnotationSkipOutboundPorts, &s.skipOut},
	} {
		if v, ok := a[f.key]; ok {
			*f.field = strings.TrimSpace(v)
		}
	}
	// Check the result; report a value where it came from when it came
	// from a, as the default otherwise.
	at := func(key string) string {
		if _, ok := a[key]; ok {
			return where
		}
		return ""
	}
	check := func(key, value string, err error) {
		if err != nil {
			errs = append(errs, &AnnotationError{Key: key, Value: value, Where: at(key), Err: err})
		}
	}
	if _, err := logging.Parse(s.logLevel); err != nil {
		check(AnnotationProxyLogLevel, s.logLevel, errors.New("want trace, debug, info, warn, error or disabled"))
	}
	if s.uid < 1 || s.uid > 1<<31-1 {
		check(AnnotationProxyUID, strconv.FormatInt(s.uid, 10), errors.New("want a uid from 1 to 2147483647 (not root)"))
	}
	for _, q := range []struct{ key, value string }{
		{AnnotationProxyCPURequest, s.cpuRequest}, {AnnotationProxyCPULimit, s.cpuLimit},
		{AnnotationProxyMemoryRequest, s.memRequest}, {AnnotationProxyMemoryLimit, s.memLimit},
	} {
		if _, err := resource.ParseQuantity(q.value); err != nil {
			check(q.key, q.value, errors.New("not a Kubernetes quantity (e.g. 100m, 1, 64Mi)"))
		}
	}
	for _, p := range []struct {
		key   string
		field *string
	}{{AnnotationSkipInboundPorts, &s.skipIn}, {AnnotationSkipOutboundPorts, &s.skipOut}} {
		var ports redirect.Ports
		if err := ports.Set(*p.field); err != nil {
			check(p.key, *p.field, err)
		} else {
			*p.field = ports.String()
		}
	}
	if list, err := opaquePorts(s.opaquePorts); err != nil {
		check(AnnotationOpaquePorts, s.opaquePorts, err)
	} else {
		s.opaquePorts = list
	}
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	return s, nil
}

// maxOpaquePorts bounds what a range in the opaque ports expands to.
const maxOpaquePorts = 1024

// opaquePorts checks a list of ports and ranges and returns it as the
// proxy takes it: single ports, comma-separated.
func opaquePorts(v string) (string, error) {
	var ranges redirect.Ports
	if err := ranges.Set(v); err != nil {
		return "", err
	}
	var out []string
	for _, r := range ranges {
		for p := int(r.First); p <= int(r.Last); p++ {
			out = append(out, strconv.Itoa(p))
			if len(out) > maxOpaquePorts {
				return "", fmt.Errorf("more than %d ports", maxOpaquePorts)
			}
		}
	}
	return strings.Join(out, ","), nil
}

// checkResources makes sure requests do not exceed limits.
func (s settings) checkResources() error {
	for _, p := range []struct{ req, lim, what string }{
		{s.cpuRequest, s.cpuLimit, "cpu"}, {s.memRequest, s.memLimit, "memory"},
	} {
		req, lim := resource.MustParse(p.req), resource.MustParse(p.lim)
		if req.Cmp(lim) > 0 {
			return fmt.Errorf("proxy %s request %s exceeds its limit %s", p.what, p.req, p.lim)
		}
	}
	return nil
}

// checkPEM makes sure b holds at least one CERTIFICATE block and nothing
// else.
func checkPEM(b []byte) error {
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(strings.TrimSpace(string(rest))) > 0 {
				return errors.New("trust anchors: trailing data that is not PEM")
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("trust anchors: PEM block %q, want CERTIFICATE", block.Type)
		}
		n++
	}
	if n == 0 {
		return errors.New("trust anchors: no PEM CERTIFICATE block")
	}
	return nil
}
