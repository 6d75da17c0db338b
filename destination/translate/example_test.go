package translate_test

import (
	"fmt"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	"github.com/meshlite/meshlite/destination/translate"
)

// A VirtualService and a DestinationRule, compiled and built into the
// policy the destination service sends the proxies of reviews.
func Example() {
	vs := &translate.VirtualService{
		Source: translate.Source{Kind: translate.KindVirtualService, Namespace: "default", Name: "reviews"},
		Spec: &networkingv1alpha3.VirtualService{
			Hosts: []string{"reviews"},
			Http: []*networkingv1alpha3.HTTPRoute{{
				Route: []*networkingv1alpha3.HTTPRouteDestination{
					{Destination: &networkingv1alpha3.Destination{Host: "reviews", Subset: "v1"}, Weight: 80},
					{Destination: &networkingv1alpha3.Destination{Host: "reviews", Subset: "v2"}, Weight: 20},
				},
			}},
		},
	}
	dr := &translate.DestinationRule{
		Source: translate.Source{Kind: translate.KindDestinationRule, Namespace: "default", Name: "reviews"},
		Spec: &networkingv1alpha3.DestinationRule{
			Host: "reviews.default.svc.cluster.local",
			Subsets: []*networkingv1alpha3.Subset{
				{Name: "v1", Labels: map[string]string{"version": "v1"}},
				{Name: "v2", Labels: map[string]string{"version": "v2"}},
			},
			TrafficPolicy: &networkingv1alpha3.TrafficPolicy{LoadBalancer: &networkingv1alpha3.LoadBalancerSettings{
				LbPolicy: &networkingv1alpha3.LoadBalancerSettings_Simple{Simple: networkingv1alpha3.LoadBalancerSettings_LEAST_REQUEST},
			}},
		},
	}
	set := &translate.Set{}
	for _, r := range []translate.Resource{vs, dr} {
		if probs := translate.Compile(r, translate.Options{}); len(probs.Errors()) > 0 {
			fmt.Println(probs)
			return
		}
		set.Add(r)
	}
	table, problems := translate.Build(set, translate.Options{}, nil)
	fmt.Println("problems:", len(problems))
	p := table.Policy("reviews.default", nil)
	fmt.Println("balancer:", p.GetBalancer())
	for _, r := range p.GetHttpRoutes() {
		for _, b := range r.GetBackends() {
			fmt.Printf("%s: subset %s, weight %d\n", r.GetName(), b.GetSubset(), b.GetWeight())
		}
	}
	// Output:
	// problems: 0
	// balancer: BALANCER_LEAST_REQUEST
	// VirtualService/default/reviews/0: subset v1, weight 80
	// VirtualService/default/reviews/0: subset v2, weight 20
}
