package inject

import (
	"fmt"
	"slices"
	"strconv"

	yaml "go.yaml.in/yaml/v3"
)

// Transform adds the meshlite proxy to every workload of input, a stream
// of Kubernetes objects in YAML or JSON (several documents, Lists), and
// returns the stream with the same documents in the same order, and one
// Result per object. Documents it does not change are returned byte for
// byte; changed ones keep their key order, comments and indentation as far
// as a YAML round trip allows. An error (bad YAML, a bad annotation value)
// returns no output: nothing is half-injected.
func Transform(input []byte, opts Options) ([]byte, []Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, nil, err
	}
	opts = opts.withDefaults()
	docs, err := parseAll(input)
	if err != nil {
		return nil, nil, fmt.Errorf("inject: %w", err)
	}
	nss := namespaces(docs)
	for ns, a := range opts.Namespaces {
		if nss[ns] == nil {
			nss[ns] = map[string]string{}
		}
		for k, v := range a {
			nss[ns][k] = v
		}
	}
	t := injector{opts: opts, namespaces: nss}
	out, results, err := rewrite(docs, t.object)
	if err != nil {
		return nil, nil, fmt.Errorf("inject: %w", err)
	}
	return out, results, nil
}

// Namespaces returns the annotations of the Namespace objects in input
// (name → annotations, empty for a Namespace without any), for
// Options.Namespaces when the namespaces and the workloads come in
// different inputs.
func Namespaces(input []byte) (map[string]map[string]string, error) {
	docs, err := parseAll(input)
	if err != nil {
		return nil, fmt.Errorf("inject: %w", err)
	}
	return namespaces(docs), nil
}

type injector struct {
	opts       Options
	namespaces map[string]map[string]string
}

// object injects one object, or says why not.
func (t injector) object(o object) (Result, bool, error) {
	r := Result{Kind: o.kind, Namespace: o.namespace, Name: o.name, Action: Skipped}
	if o.kind == "" {
		r.Reason = ReasonNoKind
		return r, false, nil
	}
	if !o.isWorkload() {
		r.Reason = ReasonUnsupportedKind
		return r, false, nil
	}
	tmpl := o.template(false)
	spec := get(tmpl, "spec")
	if containers := get(spec, "containers"); containers == nil || containers.Kind != yaml.SequenceNode || len(containers.Content) == 0 {
		r.Reason = ReasonNoTemplate
		return r, false, nil
	}
	meta := get(tmpl, "metadata")
	if injected(meta, spec) {
		r.Reason = ReasonAlreadyInjected
		return r, false, nil
	}
	s, err := t.settings(o, meta)
	if err != nil {
		return r, false, fmt.Errorf("%s: %w", o.label(), err)
	}
	if s.inject == "disabled" {
		r.Reason = "disabled by annotation " + AnnotationInject + "=disabled on " + s.injectWhere
		return r, false, nil
	}
	if str(spec, "hostNetwork") == "true" {
		r.Reason = ReasonHostNetwork
		return r, false, nil
	}
	if reason := portConflict(spec); reason != "" {
		r.Reason = reason
		return r, false, nil
	}
	p := sidecar{opts: t.opts, s: s, jobLike: o.jobLike(spec), embedded: len(t.opts.TrustAnchorsPEM) > 0}
	if err := p.add(o, o.template(true)); err != nil {
		return r, false, fmt.Errorf("%s: %w", o.label(), err)
	}
	r.Action = Injected
	r.Warnings = p.warnings(spec)
	return r, true, nil
}

// settings resolves the workload's tunables: Options.Proxy, then the
// namespace's annotations, the workload's, the pod template's.
func (t injector) settings(o object, tmplMeta *yaml.Node) (settings, error) {
	s, err := t.opts.Proxy.settings().apply(nil, "")
	if err != nil {
		return s, err
	}
	ns := o.namespace
	if ns == "" {
		ns = t.opts.DefaultNamespace
	}
	if s, err = s.apply(t.namespaces[ns], "namespace "+ns); err != nil {
		return s, err
	}
	if o.kind != "Pod" {
		if s, err = s.apply(stringMap(path(o.node, "metadata", "annotations")), "the "+o.kind); err != nil {
			return s, err
		}
	}
	where := "the pod template"
	if o.kind == "Pod" {
		where = "the Pod"
	}
	if s, err = s.apply(stringMap(get(tmplMeta, "annotations")), where); err != nil {
		return s, err
	}
	return s, s.checkResources()
}

// injected tells whether a pod template already has meshlite in it.
func injected(meta, spec *yaml.Node) bool {
	a := stringMap(get(meta, "annotations"))
	if _, ok := a[AnnotationStatus]; ok {
		return true
	}
	if _, ok := a[AnnotationProxyVersion]; ok {
		return true
	}
	all := append(names(get(spec, "containers")), names(get(spec, "initContainers"))...)
	return slices.Contains(all, ProxyContainerName) || slices.Contains(all, InitContainerName)
}

// portConflict names a container port the proxy needs for itself.
func portConflict(spec *yaml.Node) string {
	for _, list := range []string{"initContainers", "containers"} {
		seq := get(spec, list)
		if seq == nil {
			continue
		}
		for _, c := range seq.Content {
			ports := get(c, "ports")
			if ports == nil {
				continue
			}
			for _, p := range ports.Content {
				switch n, _ := strconv.Atoi(str(p, "containerPort")); n {
				case ProxyInboundPort, ProxyOutboundPort, ProxyAdminPort:
					return fmt.Sprintf("container %s uses port %d, which the proxy needs", str(c, "name"), n)
				}
			}
		}
	}
	return ""
}
