package config

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshlite/meshlite/destination/health"
	"github.com/meshlite/meshlite/destination/registry"
)

// HealthCheckDoc is the HealthCheck kind as written:
//
//	apiVersion: meshlite.io/v1alpha1
//	kind: HealthCheck
//	metadata: {name: web, namespace: default}
//	spec:
//	  service: web          # a Service in the same namespace
//	  port: 8080            # or a port name; default: the first port's targetPort
//	  interval: 10s         # from the end of one check to the start of the next
//	  timeout: 1s
//	  healthyThreshold: 2
//	  unhealthyThreshold: 3
//	  http: {path: /healthz, expectedStatus: 200}   # or tcp: {} or grpc: {service: ""}
type HealthCheckDoc struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              HealthCheckSpec `json:"spec"`
}

// HealthCheckSpec is a HealthCheck's spec.
type HealthCheckSpec struct {
	Service            string              `json:"service"`
	Port               *intstr.IntOrString `json:"port,omitempty"`
	Interval           *metav1.Duration    `json:"interval,omitempty"`
	Timeout            *metav1.Duration    `json:"timeout,omitempty"`
	HealthyThreshold   *int32              `json:"healthyThreshold,omitempty"`
	UnhealthyThreshold *int32              `json:"unhealthyThreshold,omitempty"`
	HTTP               *HTTPCheck          `json:"http,omitempty"`
	TCP                *TCPCheck           `json:"tcp,omitempty"`
	GRPC               *GRPCCheck          `json:"grpc,omitempty"`
}

// HTTPCheck is an HTTP GET that passes on the expected status.
type HTTPCheck struct {
	Path           string `json:"path,omitempty"`           // "/"
	ExpectedStatus int32  `json:"expectedStatus,omitempty"` // 0: any 2xx
}

// TCPCheck passes when a TCP connection opens.
type TCPCheck struct{}

// GRPCCheck asks grpc.health.v1 and passes on SERVING.
type GRPCCheck struct {
	Service string `json:"service,omitempty"` // "": the whole server
}

// HealthCheck is a validated HealthCheck.
type HealthCheck struct {
	Name, Namespace string
	// Service is the checked Service's name, in Namespace.
	Service string
	// Port is the port checked on each workload; when 0, PortName names
	// it, and when both are empty the service's first port's targetPort
	// is checked.
	Port     uint16
	PortName string
	Spec     health.Spec
	At       Location
}

// ServiceKey is the checked service's "name.namespace".
func (h *HealthCheck) ServiceKey() string { return h.Service + "." + h.Namespace }

func parseHealthCheck(d *doc) *HealthCheck {
	var k HealthCheckDoc
	if !d.decode(&k) {
		return nil
	}
	h := &HealthCheck{Name: k.Name, Namespace: k.Namespace, Service: k.Spec.Service, At: Location{d.file, d.root.Line}}
	if h.Namespace == "" {
		h.Namespace = registry.DefaultNamespace
	}
	checkName(d, "metadata.name", k.Name, validation.IsDNS1123Subdomain)
	if k.Namespace != "" {
		checkName(d, "metadata.namespace", k.Namespace, validation.IsDNS1123Label)
	}
	checkName(d, "spec.service", k.Spec.Service, validation.IsDNS1035Label)
	if p := k.Spec.Port; p != nil {
		if p.Type == intstr.String {
			if errs := validation.IsValidPortName(p.StrVal); len(errs) > 0 {
				d.add("spec.port", "%q: %s", p.StrVal, strings.Join(errs, "; "))
			}
			h.PortName = p.StrVal
		} else if p.IntVal < 1 || p.IntVal > 65535 {
			d.add("spec.port", "%d is out of range (1-65535)", p.IntVal)
		} else {
			h.Port = uint16(p.IntVal)
		}
	}
	h.Spec = checkSpec(d, &k.Spec)
	if len(d.problems) > 0 {
		return nil
	}
	return h
}

func checkSpec(d *doc, s *HealthCheckSpec) health.Spec {
	var spec health.Spec
	kinds := 0
	if s.HTTP != nil {
		kinds++
		spec.Kind, spec.Path, spec.ExpectedStatus = health.KindHTTP, s.HTTP.Path, int(s.HTTP.ExpectedStatus)
		if spec.Path != "" && !strings.HasPrefix(spec.Path, "/") {
			d.add("spec.http.path", "%q must start with /", spec.Path)
		}
		if st := s.HTTP.ExpectedStatus; st != 0 && (st < 100 || st > 599) {
			d.add("spec.http.expectedStatus", "%d is not an HTTP status (100-599)", st)
		}
	}
	if s.TCP != nil {
		kinds++
		spec.Kind = health.KindTCP
	}
	if s.GRPC != nil {
		kinds++
		spec.Kind, spec.GRPCService = health.KindGRPC, s.GRPC.Service
	}
	if kinds != 1 {
		d.add("spec", "exactly one of http, tcp and grpc is required (got %d)", kinds)
	}
	if s.Interval != nil {
		spec.Interval = s.Interval.Duration
		if spec.Interval < 10*time.Millisecond {
			d.add("spec.interval", "%v is too short (at least 10ms)", spec.Interval)
		}
	}
	if s.Timeout != nil {
		spec.Timeout = s.Timeout.Duration
		if spec.Timeout <= 0 {
			d.add("spec.timeout", "must be positive")
		}
	}
	for _, th := range []struct {
		field string
		v     *int32
		out   *int
	}{{"spec.healthyThreshold", s.HealthyThreshold, &spec.HealthyThreshold}, {"spec.unhealthyThreshold", s.UnhealthyThreshold, &spec.UnhealthyThreshold}} {
		if th.v == nil {
			continue
		}
		if *th.v < 1 {
			d.add(th.field, "must be at least 1, got %d", *th.v)
		}
		*th.out = int(*th.v)
	}
	return spec.WithDefaults()
}
