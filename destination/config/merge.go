package config

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/meshlite/meshlite/destination/translate"
)

// Config is the configuration in force: the documents of every good file.
type Config struct {
	// Services sorted by key.
	Services []*Service
	// HealthChecks by the key of the service they check.
	HealthChecks map[string]*HealthCheck
	// Traffic is the translated Istio and Gateway API configuration.
	Traffic *translate.Table
}

// merger accumulates files and finds what conflicts between them.
type merger struct {
	opts     Options
	services map[string]*Service
	addrs    map[netip.Addr]*Service
	checks   map[string]*HealthCheck
	traffic  *translate.Set
	// warns are the warnings of the files added.
	warns Problems
}

func newMerger(o Options) *merger {
	return &merger{opts: o, services: map[string]*Service{}, addrs: map[netip.Addr]*Service{},
		checks: map[string]*HealthCheck{}, traffic: &translate.Set{}}
}

// conflicts returns what in f clashes with what m holds, or within f:
// a service declared twice, an address given to two services, two
// HealthChecks for one service.
func (m *merger) conflicts(f *File) Problems {
	var ps Problems
	services := map[string]*Service{}
	addrs := map[netip.Addr]*Service{}
	for _, s := range f.Services {
		other := m.services[s.Key()]
		if other == nil {
			other = services[s.Key()]
		}
		if other != nil {
			ps = append(ps, Problem{File: f.Path, Line: s.At.Line, Field: "metadata.name",
				Msg: fmt.Sprintf("service %s/%s is already declared at %s", s.Namespace, s.Name, other.At)})
		}
		services[s.Key()] = s
		for i, a := range s.Addrs {
			o := m.addrs[a]
			if o == nil {
				o = addrs[a]
			}
			if o != nil {
				ps = append(ps, Problem{File: f.Path, Line: s.addrLines[i], Field: "spec.clusterIP",
					Msg: fmt.Sprintf("%s is already the address of service %s/%s (%s)", a, o.Namespace, o.Name, o.At)})
			}
			addrs[a] = s
		}
	}
	checks := map[string]*HealthCheck{}
	for _, h := range f.HealthChecks {
		o := m.checks[h.ServiceKey()]
		if o == nil {
			o = checks[h.ServiceKey()]
		}
		if o != nil {
			ps = append(ps, Problem{File: f.Path, Line: h.At.Line, Field: "spec.service",
				Msg: fmt.Sprintf("service %s/%s already has a HealthCheck (%s)", h.Namespace, h.Service, o.At)})
		}
		checks[h.ServiceKey()] = h
	}
	for _, p := range m.traffic.Conflicts(&f.Traffic) {
		ps = append(ps, fromTranslate(p))
	}
	return ps
}

// add takes f's documents; f must not conflict (see conflicts).
func (m *merger) add(f *File) {
	for _, s := range f.Services {
		m.services[s.Key()] = s
		for _, a := range s.Addrs {
			m.addrs[a] = s
		}
	}
	for _, h := range f.HealthChecks {
		m.checks[h.ServiceKey()] = h
	}
	m.traffic.Add(f.Traffic.Resources()...)
	m.warns = append(m.warns, f.Warnings...)
}

// known reports whether a service is declared.
func (m *merger) known(key string) bool { return m.services[key] != nil }

// references are the problems of what the traffic resources name: a
// subset nobody defines (an error), a service nobody declares (a
// warning).
func (m *merger) references() []translate.Problem {
	return m.traffic.References(m.known, m.opts)
}

// warnings are the files' own, the HealthChecks naming a service nobody
// declares, and the traffic resources naming one.
func (m *merger) warnings() Problems {
	ps := slices.Clone(m.warns)
	for _, p := range m.references() {
		p.Warning = true // errors left are about files that could not be refused
		ps = append(ps, fromTranslate(p))
	}
	for _, k := range slices.Sorted(maps.Keys(m.checks)) {
		h := m.checks[k]
		if m.services[k] == nil {
			ps = append(ps, Problem{File: h.At.File, Line: h.At.Line, Field: "spec.service", Warning: true,
				Msg: fmt.Sprintf("no service %s/%s is declared: the check applies once it is", h.Namespace, h.Service)})
		}
	}
	return ps
}

func (m *merger) config() *Config {
	c := &Config{HealthChecks: maps.Clone(m.checks)}
	c.Traffic, _ = translate.Build(m.traffic, m.opts, m.known) // problems: see warnings
	for _, k := range slices.Sorted(maps.Keys(m.services)) {
		c.Services = append(c.Services, m.services[k])
	}
	return c
}

// sortProblems orders problems by file, line and field.
func sortProblems(ps Problems) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Field, b.Field)
	})
}
