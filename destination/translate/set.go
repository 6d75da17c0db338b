package translate

import (
	"fmt"
	"slices"
)

// Known reports whether a service ("name.namespace") exists. A nil Known
// knows every service.
type Known func(service string) bool

// Host is the service key the DestinationRule is for; "" before a
// successful Compile.
func (dr *DestinationRule) Host() string {
	if dr.c == nil {
		return ""
	}
	return dr.c.host
}

// DestinationRule returns the set's DestinationRule for service key, or
// nil (the first one, when several conflict).
func (s *Set) DestinationRule(key string) *DestinationRule {
	for _, dr := range s.DestinationRules {
		if dr.c != nil && dr.c.host == key {
			return dr
		}
	}
	return nil
}

// HasSubset reports whether the DestinationRule defines subset name.
func (dr *DestinationRule) HasSubset(name string) bool {
	if dr.c == nil {
		return false
	}
	_, ok := dr.c.subsets[name]
	return ok
}

// index finds, per service, who routes it and who has its
// DestinationRule.
type setIndex struct {
	names  map[string]Resource // by Source.Key
	vs     map[string]*VirtualService
	routes map[string]*HTTPRoute // the first HTTPRoute attached
	dr     map[string]*DestinationRule
}

func (s *Set) index() *setIndex {
	x := &setIndex{names: map[string]Resource{}, vs: map[string]*VirtualService{}, routes: map[string]*HTTPRoute{},
		dr: map[string]*DestinationRule{}}
	for _, r := range s.Resources() {
		x.add(r)
	}
	return x
}

func (x *setIndex) addVS(vs *VirtualService) {
	for _, h := range vs.c.hosts {
		if _, ok := x.vs[h]; !ok {
			x.vs[h] = vs
		}
	}
}

func (x *setIndex) addRoute(r *HTTPRoute) {
	for _, p := range r.c.parents {
		if _, ok := x.routes[p.service]; !ok {
			x.routes[p.service] = r
		}
	}
}

// conflicts returns r's clashes with what x holds: a service routed by
// two VirtualServices, or by a VirtualService and HTTPRoutes, or with
// two DestinationRules.
func (x *setIndex) conflicts(r Resource) Problems {
	var ps Problems
	bad := func(f, format string, args ...any) {
		ps = append(ps, Problem{Source: r.Src(), Field: f, Msg: fmt.Sprintf(format, args...)})
	}
	if o := x.names[r.Src().Key()]; o != nil && o != r {
		bad("metadata.name", "%s is already declared: %s", r.Src().Key(), o.Src())
		return ps
	}
	switch r := r.(type) {
	case *VirtualService:
		for i, h := range r.c.hosts {
			if o := x.vs[h]; o != nil && o != r {
				bad(r.c.hostFields[i], "service %s is already routed by %s: one VirtualService per host", h, o.Src())
			} else if o := x.routes[h]; o != nil {
				bad(r.c.hostFields[i], "service %s is already routed by %s: use a VirtualService or HTTPRoutes, not both", h, o.Src())
			}
		}
	case *HTTPRoute:
		for _, p := range r.c.parents {
			if o := x.vs[p.service]; o != nil {
				bad(p.field, "service %s is already routed by %s: use a VirtualService or HTTPRoutes, not both", p.service, o.Src())
			}
		}
	case *DestinationRule:
		if o := x.dr[r.c.host]; o != nil && o != r {
			bad("spec.host", "service %s already has %s: one DestinationRule per host", r.c.host, o.Src())
		}
	}
	return ps
}

func (x *setIndex) add(r Resource) {
	if _, ok := x.names[r.Src().Key()]; !ok {
		x.names[r.Src().Key()] = r
	}
	switch r := r.(type) {
	case *VirtualService:
		x.addVS(r)
	case *HTTPRoute:
		x.addRoute(r)
	case *DestinationRule:
		x.addDR(r)
	}
}

func (x *setIndex) addDR(dr *DestinationRule) {
	if _, ok := x.dr[dr.c.host]; !ok {
		x.dr[dr.c.host] = dr
	}
}

// Conflicts returns the problems of the resources of other that clash
// with s's, or with each other's; nil when other can be added to s.
func (s *Set) Conflicts(other *Set) Problems {
	x := s.index()
	var ps Problems
	for _, r := range other.Resources() {
		if p := x.conflicts(r); len(p) > 0 {
			ps = append(ps, p...)
			continue
		}
		x.add(r)
	}
	return ps
}

// sorted returns s's resources oldest first (then by namespace and name).
func (s *Set) sorted() []Resource {
	rs := s.Resources()
	slices.SortStableFunc(rs, func(a, b Resource) int {
		switch {
		case a.Src().before(b.Src()):
			return -1
		case b.Src().before(a.Src()):
			return 1
		}
		return 0
	})
	return rs
}

// resolve returns the resources of s that do not conflict, the oldest
// winning, and the problems of the others.
func (s *Set) resolve() (*Set, Problems) {
	out := &Set{}
	x := out.index()
	var ps Problems
	for _, r := range s.sorted() {
		if p := x.conflicts(r); len(p) > 0 {
			ps = append(ps, p...)
			continue
		}
		x.add(r)
		out.Add(r)
	}
	return out, ps
}

// References checks what s's resources name: a subset no DestinationRule
// of its service defines is an error (Problem.Service names the
// service); a service known does not know is a warning (the
// configuration applies once it exists).
func (s *Set) References(known Known, o Options) Problems {
	x := s.index()
	var ps Problems
	warned := map[string]bool{} // once per resource and service
	unknown := func(r Resource, f, svc, what string) {
		if k := r.Src().Key() + " " + svc; known != nil && !known(svc) && !warned[k] {
			warned[k] = true
			ps = append(ps, Problem{Source: r.Src(), Field: f, Warning: true,
				Msg: fmt.Sprintf("no service %s is known: %s", svc, what)})
		}
	}
	for _, vs := range s.VirtualServices {
		for i, h := range vs.c.hosts {
			unknown(vs, vs.c.hostFields[i], h, "the routes apply once it exists")
		}
		for _, ref := range vs.c.refs {
			unknown(vs, field(ref.field, "host"), ref.service, "requests routed to it fail until it exists")
			if ref.subset == "" {
				continue
			}
			if dr := x.dr[ref.service]; dr == nil || !dr.HasSubset(ref.subset) {
				where := "no DestinationRule is defined for it"
				if dr != nil {
					where = "its " + dr.Src().String() + " does not define it"
				}
				ps = append(ps, Problem{Source: vs.Src(), Field: field(ref.field, "subset"), Service: ref.service, Subset: ref.subset,
					Msg: fmt.Sprintf("subset %q of service %s is not defined: %s", ref.subset, ref.service, where)})
			}
		}
	}
	for _, dr := range s.DestinationRules {
		unknown(dr, "spec.host", dr.c.host, "the policy applies once it exists")
	}
	for _, r := range s.HTTPRoutes {
		for _, p := range r.c.parents {
			unknown(r, p.field, p.service, "the route applies once it exists")
		}
		for _, ref := range r.c.refs {
			unknown(r, field(ref.field, "name"), ref.service, "requests routed to it fail until it exists")
		}
	}
	return ps
}
