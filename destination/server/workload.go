package server

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshlite/meshlite/destination/lease"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// Limits on one registration.
const (
	maxPorts  = 64
	maxLabels = 64
	maxWeight = 10000
)

// workloadFromProto validates a registration and converts it.
func workloadFromProto(p *destinationv1.Workload, td spiffeid.TrustDomain) (*lease.Workload, error) {
	if p == nil {
		return nil, errors.New("destination: workload: required")
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	w := &lease.Workload{Name: p.GetName(), Namespace: p.GetNamespace(), ServiceAccount: p.GetServiceAccount(),
		Identity: p.GetIdentity()}
	if e := validation.IsDNS1123Subdomain(w.Name); len(e) > 0 {
		bad("name %q: %s", w.Name, strings.Join(e, "; "))
	}
	if e := validation.IsDNS1123Label(w.Namespace); len(e) > 0 {
		bad("namespace %q: %s", w.Namespace, strings.Join(e, "; "))
	}
	if w.ServiceAccount != "" {
		if e := validation.IsDNS1123Subdomain(w.ServiceAccount); len(e) > 0 {
			bad("service_account %q: %s", w.ServiceAccount, strings.Join(e, "; "))
		}
	}
	a, err := netip.ParseAddr(p.GetAddress())
	if err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
		bad("address %q: not a unicast IP address", p.GetAddress())
	}
	w.Addr = a.Unmap()
	if len(p.GetLabels()) > maxLabels {
		bad("labels: %d, at most %d", len(p.GetLabels()), maxLabels)
	}
	for _, k := range slices.Sorted(maps.Keys(p.GetLabels())) {
		v := p.GetLabels()[k]
		if e := validation.IsQualifiedName(k); len(e) > 0 {
			bad("label key %q: %s", k, strings.Join(e, "; "))
		}
		if e := validation.IsValidLabelValue(v); len(e) > 0 {
			bad("label %s value %q: %s", k, v, strings.Join(e, "; "))
		}
	}
	if len(p.GetLabels()) > 0 {
		w.Labels = maps.Clone(p.GetLabels())
	}
	if len(p.GetPorts()) > maxPorts {
		bad("ports: %d, at most %d", len(p.GetPorts()), maxPorts)
	}
	for _, port := range p.GetPorts() {
		if port < 1 || port > 65535 {
			bad("port %d: out of range (1-65535)", port)
			continue
		}
		w.Ports = append(w.Ports, uint16(port))
	}
	slices.Sort(w.Ports)
	w.Ports = slices.Compact(w.Ports)
	for _, name := range slices.Sorted(maps.Keys(p.GetPortNames())) {
		port := p.GetPortNames()[name]
		if e := validation.IsValidPortName(name); len(e) > 0 {
			bad("port name %q: %s", name, strings.Join(e, "; "))
		}
		if port > 65535 || !slices.Contains(w.Ports, uint16(port)) {
			bad("port name %q: port %d is not among the ports", name, port)
			continue
		}
		if w.PortNames == nil {
			w.PortNames = map[string]uint16{}
		}
		w.PortNames[name] = uint16(port)
	}
	if wt := p.GetWeight(); wt > maxWeight {
		bad("weight %d: at most %d", wt, maxWeight)
	} else {
		w.Weight = wt
	}
	if mp := p.GetMeshPort(); mp > 65535 {
		bad("mesh_port %d: out of range", mp)
	} else {
		w.MeshPort = uint16(mp)
	}
	if w.Identity != "" {
		if err := checkIdentity(w, td); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("destination: workload: %w", err)
	}
	return w, nil
}

// checkIdentity: a meshed workload's identity is the one its namespace
// and service account make.
func checkIdentity(w *lease.Workload, td spiffeid.TrustDomain) error {
	id, err := spiffeid.FromString(w.Identity)
	if err != nil {
		return fmt.Errorf("identity %q: %w", w.Identity, err)
	}
	if w.ServiceAccount == "" {
		return fmt.Errorf("identity %q: a meshed workload needs its service_account", w.Identity)
	}
	want, err := spiffe.WorkloadID(td, w.Namespace, w.ServiceAccount)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if id != want {
		return fmt.Errorf("identity %q: want %s for namespace %s and service account %s", w.Identity, want, w.Namespace, w.ServiceAccount)
	}
	return nil
}
