package inject

import (
	"fmt"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Uninject removes from every workload of input what Transform added —
// exactly that, as recorded in the meshlite.io/inject-status annotation —
// so that Uninject(Transform(x)) is x again (the same objects; documents
// Transform left alone come back byte for byte). A pod without that
// annotation is left as it is, even with containers called meshlite-proxy:
// what was added to it, and by whom, is unknown. Like Transform it returns
// one Result per object.
func Uninject(input []byte) ([]byte, []Result, error) {
	docs, err := parseAll(input)
	if err != nil {
		return nil, nil, fmt.Errorf("uninject: %w", err)
	}
	out, results, err := rewrite(docs, uninjectObject)
	if err != nil {
		return nil, nil, fmt.Errorf("uninject: %w", err)
	}
	return out, results, nil
}

func uninjectObject(o object) (Result, bool, error) {
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
	meta, spec := get(tmpl, "metadata"), get(tmpl, "spec")
	v, ok := stringMap(get(meta, "annotations"))[AnnotationStatus]
	if !ok {
		r.Action, r.Reason = Unchanged, ReasonNotInjected
		if spec != nil && injected(meta, spec) {
			r.Reason = ReasonNoStatus
		}
		return r, false, nil
	}
	st, err := parseStatus(v)
	if err != nil {
		return r, false, fmt.Errorf("%s: %w", o.label(), err)
	}
	tmpl = o.template(true)
	meta, spec = own(tmpl, "metadata"), own(tmpl, "spec")
	removeNamed(own(spec, "initContainers"), toSet(st.InitContainers))
	removeNamed(own(spec, "containers"), toSet(st.Containers))
	removeNamed(own(spec, "volumes"), toSet(st.Volumes))
	annotations, labels := own(meta, "annotations"), own(meta, "labels")
	for _, k := range append(slices.Clone(st.Annotations), AnnotationStatus) {
		del(annotations, k)
	}
	for _, k := range st.Labels {
		del(labels, k)
	}
	// The deepest first: "metadata" only empties once its annotations and
	// labels are gone.
	created := slices.Clone(st.Created)
	slices.SortStableFunc(created, func(a, b string) int {
		return strings.Count(b, ".") - strings.Count(a, ".")
	})
	for _, c := range created {
		p, wasNull := strings.CutSuffix(c, ":null")
		keys := strings.Split(p, ".")
		parent := path(tmpl, keys[:len(keys)-1]...)
		key := keys[len(keys)-1]
		v := get(parent, key)
		switch {
		case v == nil:
			continue
		case v.Kind == yaml.ScalarNode:
			// A field inject set (serviceAccountName), unless changed since.
			if key != "serviceAccountName" || v.Value != defaultServiceAccount {
				continue
			}
		case (v.Kind != yaml.MappingNode && v.Kind != yaml.SequenceNode) || len(v.Content) > 0:
			continue
		}
		if wasNull {
			set(parent, key, nullNode())
		} else {
			del(parent, key)
		}
	}
	r.Action = Uninjected
	return r, true, nil
}

func toSet(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}
