package kube

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/meshlite/meshlite/destination/config"
	"github.com/meshlite/meshlite/destination/translate"
)

// DefaultCRDRecheck is how often the API is asked again for the custom
// resources that were not installed.
const DefaultCRDRecheck = 30 * time.Second

// trafficResources are the custom resources watched: the plural of each
// kind config.TrafficKinds lists.
var trafficResources = map[string]string{
	translate.KindVirtualService:      "virtualservices",
	translate.KindDestinationRule:     "destinationrules",
	translate.KindPeerAuthentication:  "peerauthentications",
	translate.KindAuthorizationPolicy: "authorizationpolicies",
	translate.KindHTTPRoute:           "httproutes",
}

// crd is one kind to watch.
type crd struct {
	group, kind string
	versions    []string // by preference
}

// traffic follows the Istio and Gateway API resources through dynamic
// informers and keeps, per object, the last version that translated
// without errors: a bad update leaves the previous version in force.
type traffic struct {
	opts     translate.Options
	disc     discovery.DiscoveryInterface
	factory  dynamicinformer.DynamicSharedInformerFactory
	log      zerolog.Logger
	onChange func()

	mu      sync.Mutex
	missing []crd // not (yet) installed
	objects map[string]*object
	dirty   bool
}

// object is one custom resource's state.
type object struct {
	good     translate.Resource // nil while no version was good
	reported string             // the problems last logged
}

func newTraffic(disc discovery.DiscoveryInterface, factory dynamicinformer.DynamicSharedInformerFactory, opts translate.Options, log zerolog.Logger, onChange func()) *traffic {
	t := &traffic{opts: opts, disc: disc, factory: factory, log: log, onChange: onChange, objects: map[string]*object{}, dirty: true}
	for _, group := range slices.Sorted(maps.Keys(config.TrafficKinds)) {
		kinds := config.TrafficKinds[group]
		for _, kind := range slices.Sorted(maps.Keys(kinds)) {
			t.missing = append(t.missing, crd{group: group, kind: kind, versions: kinds[kind]})
		}
	}
	return t
}

// discover starts an informer for each missing kind the API now serves,
// logging once about those it does not. It returns the new informers'
// sync functions.
func (t *traffic) discover(ctx context.Context, first bool) []cache.InformerSynced {
	t.mu.Lock()
	missing := t.missing
	t.mu.Unlock()
	var still []crd
	var absent []string
	var synced []cache.InformerSynced
	for _, c := range missing {
		gvr, ok := t.served(c)
		if !ok {
			still = append(still, c)
			absent = append(absent, c.kind+"."+c.group)
			continue
		}
		inf := t.factory.ForResource(gvr).Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    t.update,
			UpdateFunc: func(_, obj any) { t.update(obj) },
			DeleteFunc: t.delete,
		}); err != nil {
			t.log.Error().Err(err).Str("resource", gvr.String()).Msg("watching a custom resource")
			still = append(still, c)
			continue
		}
		if !first {
			t.log.Info().Str("resource", gvr.String()).Msg("custom resource installed: watching it")
		}
		synced = append(synced, inf.HasSynced)
	}
	if first && len(absent) > 0 {
		t.log.Info().Strs("resources", absent).
			Msg("custom resources not installed: their configuration is not read until they are (checked again periodically)")
	}
	t.mu.Lock()
	t.missing = still
	t.mu.Unlock()
	t.factory.Start(ctx.Done())
	return synced
}

// served returns the preferred version of c the API serves.
func (t *traffic) served(c crd) (schema.GroupVersionResource, bool) {
	for _, v := range c.versions {
		list, err := t.disc.ServerResourcesForGroupVersion(c.group + "/" + v)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if r.Kind == c.kind && r.Name == trafficResources[c.kind] {
				return schema.GroupVersionResource{Group: c.group, Version: v, Resource: r.Name}, true
			}
		}
	}
	return schema.GroupVersionResource{}, false
}

// recheck looks for the missing kinds every interval until ctx is done.
func (t *traffic) recheck(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.mu.Lock()
			n := len(t.missing)
			t.mu.Unlock()
			if n > 0 {
				t.discover(ctx, false)
			}
		}
	}
}

func (t *traffic) update(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	key := u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
	data, err := u.MarshalJSON()
	var r translate.Resource
	var probs config.Problems
	if err != nil {
		probs = config.Problems{{File: key, Msg: err.Error()}}
	} else {
		r, probs = config.ParseObject(data, t.opts)
	}
	t.mu.Lock()
	o := t.objects[key]
	if o == nil {
		o = &object{}
		t.objects[key] = o
	}
	text := probs.Error()
	report := text != o.reported
	o.reported = text
	if len(probs.Errors()) == 0 {
		o.good, t.dirty = r, true
	}
	kept := o.good != nil
	t.mu.Unlock()
	if report && len(probs) > 0 {
		for _, p := range probs {
			ev, what := t.log.Warn(), "configuration warning: "
			if !p.Warning {
				ev, what = t.log.Error().Bool("previous_version_kept", kept), "configuration rejected: "
			}
			ev.Str("object", key).Str("field", p.Field).Str("problem", p.Msg).Msg(what + p.Error())
		}
	}
	t.onChange()
}

func (t *traffic) delete(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	t.mu.Lock()
	delete(t.objects, u.GetKind()+" "+u.GetNamespace()+"/"+u.GetName())
	t.dirty = true
	t.mu.Unlock()
	t.onChange()
}

// set returns the good resources when they changed since the last call
// (force: in any case), else nil.
func (t *traffic) set(force bool) *translate.Set {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dirty && !force {
		return nil
	}
	t.dirty = false
	s := &translate.Set{}
	for _, k := range slices.Sorted(maps.Keys(t.objects)) {
		if g := t.objects[k].good; g != nil {
			s.Add(g)
		}
	}
	return s
}

// problemLog remembers the problems logged at the last build.
type problemLog struct {
	last map[string]bool
}

// log logs the problems Build found that were not logged at the last
// build: conflicts, subsets nobody defines, services nobody has.
func (pl *problemLog) log(log zerolog.Logger, probs translate.Problems) {
	cur := make(map[string]bool, len(probs))
	for _, p := range probs {
		text := p.Error()
		cur[text] = true
		if pl.last[text] {
			continue
		}
		ev := log.Warn()
		if !p.Warning {
			ev = log.Error()
		}
		ev.Str("object", p.Source.Key()).Str("field", p.Field).Msg(strings.TrimPrefix(text, p.Source.Key()+": "))
	}
	pl.last = cur
}
