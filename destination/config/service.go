package config

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshlite/meshlite/destination/policy"
	"github.com/meshlite/meshlite/destination/registry"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Location is where a document starts.
type Location struct {
	File string
	Line int
}

func (l Location) String() string { return fmt.Sprintf("%s:%d", l.File, l.Line) }

// Service is a v1 Service as the embedded registry uses it.
type Service struct {
	Name, Namespace string
	// Addrs are spec.clusterIPs (or spec.clusterIP); none for "None" or
	// an empty address: the service is then reached by name only.
	Addrs    []netip.Addr
	Ports    []ServicePort
	Selector map[string]string
	Policy   *destinationv1.Policy
	At       Location
	// addrLines are the lines of Addrs, for conflicts between files.
	addrLines []int
}

// Key is "name.namespace".
func (s *Service) Key() string { return s.Name + "." + s.Namespace }

// ServicePort is one of spec.ports.
type ServicePort struct {
	Name string
	Port uint16
	// TargetPort is the workloads' port; when 0, TargetPortName names
	// it and each workload resolves the name.
	TargetPort     uint16
	TargetPortName string
	Protocol       registry.Protocol
}

// parseService reads and validates a v1 Service document.
func parseService(d *doc) *Service {
	var k corev1.Service
	if !d.decode(&k) {
		return nil
	}
	s := &Service{Name: k.Name, Namespace: k.Namespace, Selector: k.Spec.Selector, At: Location{d.file, d.root.Line}}
	if s.Namespace == "" {
		s.Namespace = registry.DefaultNamespace
	}
	checkName(d, "metadata.name", k.Name, validation.IsDNS1035Label)
	if k.Namespace != "" {
		checkName(d, "metadata.namespace", k.Namespace, validation.IsDNS1123Label)
	}
	p, err := policy.Translate(policy.Input{Annotations: k.Annotations})
	if fe, ok := err.(*policy.FieldError); ok {
		d.add(fe.Field, "%s", fe.Msg)
	}
	s.Policy = p
	switch k.Spec.Type {
	case "", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
	default:
		d.add("spec.type", "%s services are not supported by the embedded registry (ClusterIP, NodePort and LoadBalancer are)", k.Spec.Type)
	}
	checkAddrs(d, &k.Spec, s)
	checkPorts(d, k.Spec.Ports, s)
	checkSelector(d, k.Spec.Selector)
	if len(d.problems) > 0 {
		return nil
	}
	return s
}

func checkName(d *doc, field, v string, valid func(string) []string) {
	if v == "" {
		d.add(field, "required")
		return
	}
	if errs := valid(v); len(errs) > 0 {
		d.add(field, "%q: %s", v, strings.Join(errs, "; "))
	}
}

func checkAddrs(d *doc, spec *corev1.ServiceSpec, s *Service) {
	ips := spec.ClusterIPs
	field := "spec.clusterIPs"
	if len(ips) == 0 && spec.ClusterIP != "" {
		ips, field = []string{spec.ClusterIP}, "spec.clusterIP"
	} else if spec.ClusterIP != "" && len(ips) > 0 && ips[0] != spec.ClusterIP {
		d.add("spec.clusterIPs", "first address %q differs from spec.clusterIP %q", ips[0], spec.ClusterIP)
	}
	for i, ip := range ips {
		f := field
		if field == "spec.clusterIPs" {
			f = fmt.Sprintf("%s[%d]", field, i)
		}
		if ip == corev1.ClusterIPNone || ip == "" {
			continue
		}
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
			d.add(f, "%q is not a unicast IP address (or None)", ip)
			continue
		}
		a = a.Unmap()
		for j, b := range s.Addrs {
			if a == b {
				d.add(f, "%s is given twice (also at line %d)", ip, s.addrLines[j])
			}
		}
		s.Addrs = append(s.Addrs, a)
		s.addrLines = append(s.addrLines, d.line(f))
	}
}

func checkPorts(d *doc, ports []corev1.ServicePort, s *Service) {
	if len(ports) == 0 {
		d.add("spec.ports", "at least one port is required")
		return
	}
	names := map[string]int{}
	for i, p := range ports {
		f := fmt.Sprintf("spec.ports[%d]", i)
		switch {
		case p.Name == "" && len(ports) > 1:
			d.add(f+".name", "required when a service has several ports")
		case p.Name != "":
			if errs := validation.IsDNS1123Label(p.Name); len(errs) > 0 {
				d.add(f+".name", "%q: %s", p.Name, strings.Join(errs, "; "))
			}
			if j, dup := names[p.Name]; dup {
				d.add(f+".name", "%q is also the name of spec.ports[%d]", p.Name, j)
			}
			names[p.Name] = i
		}
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			d.add(f+".protocol", "%s is not supported: the mesh carries TCP", p.Protocol)
		}
		if p.Port < 1 || p.Port > 65535 {
			d.add(f+".port", "%d is out of range (1-65535)", p.Port)
			continue
		}
		sp := ServicePort{Name: p.Name, Port: uint16(p.Port), TargetPort: uint16(p.Port)}
		app := ""
		if p.AppProtocol != nil {
			app = *p.AppProtocol
		}
		sp.Protocol = registry.ProtocolOf(app, p.Name)
		switch tp := p.TargetPort; {
		case tp.Type == intstr.String && tp.StrVal != "":
			if errs := validation.IsValidPortName(tp.StrVal); len(errs) > 0 {
				d.add(f+".targetPort", "%q: %s", tp.StrVal, strings.Join(errs, "; "))
			}
			sp.TargetPort, sp.TargetPortName = 0, tp.StrVal
		case tp.Type == intstr.Int && tp.IntVal != 0:
			if tp.IntVal < 1 || tp.IntVal > 65535 {
				d.add(f+".targetPort", "%d is out of range (1-65535)", tp.IntVal)
			}
			sp.TargetPort = uint16(tp.IntVal)
		}
		for _, o := range s.Ports {
			if o.Port == sp.Port {
				d.add(f+".port", "%d is given twice", p.Port)
			}
		}
		s.Ports = append(s.Ports, sp)
	}
}

// checkSelector refuses selectors that can never match a workload: an
// empty one (the embedded registry has no manual endpoints) and keys or
// values no label can have.
func checkSelector(d *doc, sel map[string]string) {
	if len(sel) == 0 {
		d.add("spec.selector", "required: an empty selector matches no workload, ever (the embedded registry knows workloads only by their labels)")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		v := sel[k]
		f := "spec.selector[" + k + "]"
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			d.add(f, "key %q can never match a label: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			d.add(f, "value %q can never match a label: %s", v, strings.Join(errs, "; "))
		}
	}
}
