package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/meshlite/meshlite/destination/policy"
	"github.com/meshlite/meshlite/destination/registry"
	"github.com/meshlite/meshlite/destination/translate"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// ProxyVersionAnnotation marks a pod whose proxy was injected.
const ProxyVersionAnnotation = "meshlite.io/proxy-version"

// DefaultMeshPort is the injected proxy's inbound port.
const DefaultMeshPort = 4143

// Config configures a Registry.
type Config struct {
	RESTConfig  *rest.Config
	TrustDomain spiffeid.TrustDomain
	// AllMeshed treats every pod as meshed, annotated or not.
	AllMeshed bool // false
	// MeshPort is a meshed pod's proxy inbound port.
	MeshPort uint16 // DefaultMeshPort
	// Debounce gathers the events of a burst into one rebuild.
	Debounce time.Duration // 10ms
	// Translate configures the translation of the Istio and Gateway API
	// resources watched.
	Translate translate.Options
	// CRDRecheck is how often the API is asked again for custom resources
	// that are not installed.
	CRDRecheck time.Duration // DefaultCRDRecheck
	Log        zerolog.Logger
}

// Registry is the Kubernetes registry: a registry.Source.
type Registry struct {
	cfg      Config
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	slices   discoverylisters.EndpointSliceLister
	pub      *registry.Publisher
	trigger  chan struct{}
	ready    atomic.Bool
	badPol   map[string]string // service key → resourceVersion last warned about
	traffic  *traffic
	// Used by rebuild only.
	table    *translate.Table
	problems problemLog
	keys     string // the service keys of the last build
}

var _ registry.Source = (*Registry)(nil)

// New prepares the informers; Run starts them.
func New(cfg Config) (*Registry, error) {
	if cfg.MeshPort == 0 {
		cfg.MeshPort = DefaultMeshPort
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 10 * time.Millisecond
	}
	if cfg.CRDRecheck <= 0 {
		cfg.CRDRecheck = DefaultCRDRecheck
	}
	if cfg.TrustDomain.IsZero() {
		return nil, errors.New("kube: trust domain required")
	}
	client, err := kubernetes.NewForConfig(cfg.RESTConfig)
	if err != nil {
		return nil, fmt.Errorf("kube: client: %w", err)
	}
	r := &Registry{cfg: cfg, pub: registry.NewPublisher(), trigger: make(chan struct{}, 1), badPol: map[string]string{}}
	r.factory = informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(trim))
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { r.kick() },
		UpdateFunc: func(any, any) { r.kick() },
		DeleteFunc: func(any) { r.kick() },
	}
	svc := r.factory.Core().V1().Services()
	pod := r.factory.Core().V1().Pods()
	eps := r.factory.Discovery().V1().EndpointSlices()
	for _, inf := range []cache.SharedIndexInformer{svc.Informer(), pod.Informer(), eps.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, fmt.Errorf("kube: %w", err)
		}
	}
	r.services, r.pods, r.slices = svc.Lister(), pod.Lister(), eps.Lister()
	dyn, err := dynamic.NewForConfig(cfg.RESTConfig)
	if err != nil {
		return nil, fmt.Errorf("kube: dynamic client: %w", err)
	}
	r.traffic = newTraffic(client.Discovery(), dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0), cfg.Translate, cfg.Log, r.kick)
	return r, nil
}

// Snapshot implements registry.Source.
func (r *Registry) Snapshot() (*registry.Snapshot, <-chan struct{}) { return r.pub.Snapshot() }

// Ready reports whether the caches have synced once (those of the custom
// resources installed at start included).
func (r *Registry) Ready() bool { return r.ready.Load() }

func (r *Registry) kick() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Run starts the informers, waits for their caches and rebuilds the
// snapshot after every change until ctx is done.
func (r *Registry) Run(ctx context.Context) error {
	r.factory.Start(ctx.Done())
	defer r.factory.Shutdown()
	defer r.traffic.factory.Shutdown()
	crds := r.traffic.discover(ctx, true)
	for typ, ok := range r.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("kube: cache of %v did not sync", typ)
		}
	}
	if !cache.WaitForCacheSync(ctx.Done(), crds...) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("kube: the caches of the custom resources did not sync")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	wg.Go(func() { r.traffic.recheck(rctx, r.cfg.CRDRecheck) })
	r.rebuild()
	r.ready.Store(true)
	r.cfg.Log.Info().Msg("kubernetes caches synced")
	debounce := time.NewTimer(0)
	defer debounce.Stop()
	<-debounce.C
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.trigger:
			debounce.Reset(r.cfg.Debounce)
		case <-debounce.C:
			r.rebuild()
		}
	}
}

// rebuild makes a snapshot from the caches and publishes it.
func (r *Registry) rebuild() {
	svcs, err := r.services.List(labels.Everything())
	if err != nil {
		r.cfg.Log.Error().Err(err).Msg("listing services from the cache")
		return
	}
	out := make([]*registry.Service, 0, len(svcs))
	keys := make(map[string]bool, len(svcs))
	for _, svc := range svcs {
		if s := r.service(svc); s != nil {
			out = append(out, s)
			keys[s.Key()] = true
		}
	}
	r.translate(keys)
	for _, s := range out {
		s.Policy = r.table.Policy(s.Key(), s.Policy)
	}
	r.pub.Publish(registry.NewSnapshot(out).WithInbound(r.table))
}

// translate rebuilds the table when the custom resources, or the set of
// services, changed.
func (r *Registry) translate(keys map[string]bool) {
	sorted := strings.Join(slices.Sorted(maps.Keys(keys)), ",")
	set := r.traffic.set(sorted != r.keys || r.table == nil)
	if set == nil {
		return
	}
	r.keys = sorted
	var probs translate.Problems
	r.table, probs = translate.Build(set, r.cfg.Translate, func(k string) bool { return keys[k] })
	r.problems.log(r.cfg.Log, probs)
}

func (r *Registry) service(svc *corev1.Service) *registry.Service {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	s := &registry.Service{Name: svc.Name, Namespace: svc.Namespace}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			s.Addrs = append(s.Addrs, a.Unmap())
		}
	}
	p, err := policy.Translate(policy.Input{Annotations: svc.Annotations})
	if err != nil {
		if r.badPol[s.Key()] != svc.ResourceVersion {
			r.cfg.Log.Warn().Err(err).Str("service", svc.Namespace+"/"+svc.Name).Msg("service policy ignored")
			r.badPol[s.Key()] = svc.ResourceVersion
		}
		p = nil
	}
	s.Policy = p
	sl, err := r.slices.EndpointSlices(svc.Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}))
	if err != nil {
		r.cfg.Log.Error().Err(err).Msg("listing endpoint slices from the cache")
	}
	for _, sp := range svc.Spec.Ports {
		if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
			continue
		}
		app := ""
		if sp.AppProtocol != nil {
			app = *sp.AppProtocol
		}
		port := registry.Port{Name: sp.Name, Port: uint16(sp.Port), Protocol: registry.ProtocolOf(app, sp.Name)}
		for _, slice := range sl {
			port.Endpoints = r.appendEndpoints(port.Endpoints, slice, sp.Name, port.Protocol)
		}
		slices.SortFunc(port.Endpoints, func(a, b registry.Endpoint) int { return a.Addr.Compare(b.Addr) })
		port.Endpoints = slices.CompactFunc(port.Endpoints, func(a, b registry.Endpoint) bool { return a.Addr == b.Addr })
		s.Ports = append(s.Ports, port)
	}
	return s
}

// appendEndpoints adds the ready endpoints of slice for the service port
// named name.
func (r *Registry) appendEndpoints(eps []registry.Endpoint, slice *discoveryv1.EndpointSlice, name string, proto registry.Protocol) []registry.Endpoint {
	if slice.AddressType != discoveryv1.AddressTypeIPv4 && slice.AddressType != discoveryv1.AddressTypeIPv6 {
		return eps
	}
	var port uint16
	for _, p := range slice.Ports {
		pn := ""
		if p.Name != nil {
			pn = *p.Name
		}
		if pn == name && p.Port != nil && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
			port = uint16(*p.Port)
		}
	}
	if port == 0 {
		return eps
	}
	for _, ep := range slice.Endpoints {
		c := ep.Conditions
		if (c.Ready != nil && !*c.Ready) || (c.Terminating != nil && *c.Terminating) {
			continue
		}
		base := registry.Endpoint{Weight: 1, Protocol: proto}
		if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" {
			if pod, err := r.pods.Pods(slice.Namespace).Get(ref.Name); err == nil {
				r.fromPod(&base, pod)
			}
		}
		for _, a := range ep.Addresses {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				continue
			}
			e := base
			e.Addr = netip.AddrPortFrom(ip.Unmap(), port)
			eps = append(eps, e)
		}
	}
	return eps
}

// fromPod fills an endpoint's labels and, for a meshed pod, identity.
func (r *Registry) fromPod(e *registry.Endpoint, pod *corev1.Pod) {
	e.Labels = pod.Labels
	_, injected := pod.Annotations[ProxyVersionAnnotation]
	if !injected && !r.cfg.AllMeshed {
		return
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	id, err := spiffe.WorkloadID(r.cfg.TrustDomain, pod.Namespace, sa)
	if err != nil {
		return
	}
	e.Identity, e.MeshPort = id.String(), r.cfg.MeshPort
}

// trim keeps of each object only what the registry reads, to keep the
// caches small.
func trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		ann := map[string]string{}
		for k, v := range o.Annotations {
			if strings.HasPrefix(k, "meshlite.io/") {
				ann[k] = v
			}
		}
		return &corev1.Pod{
			ObjectMeta: metaOf(o.ObjectMeta, ann),
			Spec:       corev1.PodSpec{ServiceAccountName: o.Spec.ServiceAccountName},
			Status:     corev1.PodStatus{Phase: o.Status.Phase, PodIP: o.Status.PodIP},
		}, nil
	case *corev1.Service:
		o.ManagedFields = nil
	case *discoveryv1.EndpointSlice:
		o.ManagedFields = nil
	}
	return obj, nil
}

func metaOf(m metav1.ObjectMeta, ann map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Labels: m.Labels, Annotations: ann}
}
