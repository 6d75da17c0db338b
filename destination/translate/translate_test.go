package translate_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	"github.com/meshlite/meshlite/destination/translate"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// The seed example (../../examples/seed-routing.yaml, as written in the
// project's seed) translates into: route 1, header version exact v2 →
// subset v2; route 2 → subset v1, weight 100; least-request; the
// subsets with their labels.
func TestSeed(t *testing.T) {
	tr := load(t, "../../examples/seed-routing.yaml", "../../examples/seed-services.yaml")
	if len(tr.problems) > 0 {
		t.Fatalf("problems: %v", tr.problems)
	}
	p := tr.policy("user-service.default")
	if p.GetBalancer() != destinationv1.Balancer_BALANCER_LEAST_REQUEST {
		t.Errorf("balancer %v", p.GetBalancer())
	}
	subsets := map[string]string{}
	for _, s := range p.GetSubsets() {
		subsets[s.GetName()] = s.GetLabels()["version"]
	}
	if len(subsets) != 2 || subsets["v1"] != "v1" || subsets["v2"] != "v2" {
		t.Errorf("subsets %v", p.GetSubsets())
	}
	rs := p.GetHttpRoutes()
	if len(rs) != 2 {
		t.Fatalf("%d routes: %v", len(rs), rs)
	}
	h := rs[0].GetMatches()[0].GetHeaders()[0]
	if h.GetName() != "version" || h.GetValue().GetExact() != "v2" || rs[0].GetBackends()[0].GetSubset() != "v2" ||
		rs[0].GetBackends()[0].GetService() != "" {
		t.Errorf("route 1: %v", rs[0])
	}
	if len(rs[1].GetMatches()) != 0 || rs[1].GetBackends()[0].GetSubset() != "v1" || rs[1].GetBackends()[0].GetWeight() != 100 {
		t.Errorf("route 2: %v", rs[1])
	}
	if rs[0].GetName() != "VirtualService/default/user-service/0" || rs[1].GetName() != "VirtualService/default/user-service/1" {
		t.Errorf("route names %q, %q", rs[0].GetName(), rs[1].GetName())
	}
}

func vs(ns, name string, hosts []string, dest string) *translate.VirtualService {
	return &translate.VirtualService{
		Source: translate.Source{Kind: translate.KindVirtualService, Namespace: ns, Name: name},
		Spec: &networkingv1alpha3.VirtualService{Hosts: hosts, Http: []*networkingv1alpha3.HTTPRoute{{
			Route: []*networkingv1alpha3.HTTPRouteDestination{{Destination: &networkingv1alpha3.Destination{Host: dest, Subset: "v1"}}},
		}}},
	}
}

func dr(ns, name, host string, subsets ...string) *translate.DestinationRule {
	d := &translate.DestinationRule{Source: translate.Source{Kind: translate.KindDestinationRule, Namespace: ns, Name: name},
		Spec: &networkingv1alpha3.DestinationRule{Host: host}}
	for _, s := range subsets {
		d.Spec.Subsets = append(d.Spec.Subsets, &networkingv1alpha3.Subset{Name: s, Labels: map[string]string{"version": s}})
	}
	return d
}

func mustCompile(t *testing.T, rs ...translate.Resource) *translate.Set {
	t.Helper()
	set := &translate.Set{}
	for _, r := range rs {
		if probs := translate.Compile(r, translate.Options{}); len(probs.Errors()) > 0 {
			t.Fatalf("%s: %v", r.Src().Key(), probs)
		}
		set.Add(r)
	}
	return set
}

// Of two VirtualServices for one host the older wins; a subset nobody
// defines is an error naming the field; an unknown service a warning.
func TestBuildProblems(t *testing.T) {
	older, newer := vs("default", "a", []string{"reviews"}, "reviews"), vs("default", "b", []string{"reviews.default"}, "reviews")
	newer.Created = time.Unix(100, 0)
	set := mustCompile(t, newer, older, vs("default", "c", []string{"ratings"}, "ratings"),
		dr("default", "reviews", "reviews", "v1"), dr("default", "reviews-2", "reviews", "v1"))
	table, probs := translate.Build(set, translate.Options{}, func(k string) bool { return k != "ratings.default" })
	want := []struct{ key, field, msg string }{
		{"VirtualService default/b", "spec.hosts[0]", "already routed by VirtualService default/a"},
		{"DestinationRule default/reviews-2", "spec.host", "already has DestinationRule default/reviews"},
		{"VirtualService default/c", "spec.hosts[0]", "warning: spec.hosts[0]: no service ratings.default is known"},
		{"VirtualService default/c", "spec.http[0].route[0].destination.subset", `subset "v1" of service ratings.default is not defined`},
	}
	if len(probs) != len(want) {
		t.Fatalf("problems:\n%v", probs)
	}
	for _, w := range want {
		found := false
		for _, p := range probs {
			found = found || (p.Source.Key() == w.key && p.Field == w.field && strings.Contains(p.Error(), w.msg))
		}
		if !found {
			t.Errorf("no problem %+v in\n%v", w, probs)
		}
	}
	if got := table.Policy("reviews.default", nil).GetSources(); len(got) != 2 || got[0] != "VirtualService default/a" {
		t.Errorf("reviews sources %v", got)
	}
	if table.Policy("nothing.default", nil) != nil {
		t.Error("a service without configuration got a policy")
	}
}

// Conflicts reports what a file's resources would clash with.
func TestConflicts(t *testing.T) {
	have := mustCompile(t, vs("default", "a", []string{"reviews"}, "reviews"))
	add := mustCompile(t, vs("default", "b", []string{"reviews"}, "reviews"), vs("default", "c", []string{"ratings"}, "ratings"))
	probs := have.Conflicts(add)
	if len(probs) != 1 || probs[0].Source.Name != "b" {
		t.Fatalf("conflicts: %v", probs)
	}
}

func TestCompileRefusesUnsupported(t *testing.T) {
	v := vs("default", "a", []string{"*.example.com"}, "reviews")
	v.Spec.Gateways = []string{"istio-system/ingress"}
	v.Spec.Http[0].CorsPolicy = &networkingv1alpha3.CorsPolicy{}
	v.Spec.Http[0].Route[0].Weight = -1
	probs := translate.Compile(v, translate.Options{})
	for _, f := range []string{"spec.hosts[0]", "spec.gateways[0]", "spec.http[0].corsPolicy", "spec.http[0].route[0].weight"} {
		found := false
		for _, p := range probs {
			found = found || p.Field == f
		}
		if !found {
			t.Errorf("no problem at %s in\n%v", f, probs)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a resource that failed to compile was added to a set")
		}
	}()
	(&translate.Set{}).Add(v)
}

// TestRetryIgnorePreviousHosts: true, Istio's default, is what the proxies
// do and is accepted; false is refused at the field.
func TestRetryIgnorePreviousHosts(t *testing.T) {
	for _, tc := range []struct {
		value   bool
		refused bool
	}{{true, false}, {false, true}} {
		v := vs("default", "a", []string{"reviews"}, "reviews")
		v.Spec.Http[0].Retries = &networkingv1alpha3.HTTPRetry{Attempts: 2, RetryIgnorePreviousHosts: wrapperspb.Bool(tc.value)}
		probs := translate.Compile(v, translate.Options{})
		found := false
		for _, p := range probs {
			found = found || p.Field == "spec.http[0].retries.retryIgnorePreviousHosts"
		}
		if found != tc.refused {
			t.Errorf("retryIgnorePreviousHosts: %v: refused %v, want %v (%v)", tc.value, found, tc.refused, probs)
		}
	}
}
