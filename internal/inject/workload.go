package inject

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// workloadKinds are the kinds inject handles, with the API groups they
// are served from (old groups included: inject does not judge versions)
// and the path to their pod template.
var workloadKinds = map[string]struct {
	groups   []string
	template []string // nil: the object is the pod
}{
	"Pod":                   {[]string{""}, nil},
	"ReplicationController": {[]string{""}, []string{"spec", "template"}},
	"Deployment":            {[]string{"apps", "extensions"}, []string{"spec", "template"}},
	"ReplicaSet":            {[]string{"apps", "extensions"}, []string{"spec", "template"}},
	"StatefulSet":           {[]string{"apps"}, []string{"spec", "template"}},
	"DaemonSet":             {[]string{"apps", "extensions"}, []string{"spec", "template"}},
	"Job":                   {[]string{"batch"}, []string{"spec", "template"}},
	"CronJob":               {[]string{"batch"}, []string{"spec", "jobTemplate", "spec", "template"}},
}

// object is one Kubernetes object of the input: a document, or an item of
// a List.
type object struct {
	node       *yaml.Node // the object's mapping
	kind       string
	apiVersion string
	namespace  string // as written; "" when none
	name       string // metadata.name, or generateName
}

// newObject reads n; a typed List's items (DeploymentList) name no kind
// or apiVersion: defaultKind and defaultAPIVersion are the list's.
func newObject(n *yaml.Node, defaultKind, defaultAPIVersion string) object {
	o := object{node: n, kind: str(n, "kind"), apiVersion: str(n, "apiVersion")}
	if o.kind == "" {
		o.kind = defaultKind
	}
	if o.apiVersion == "" {
		o.apiVersion = defaultAPIVersion
	}
	meta := get(n, "metadata")
	o.namespace = str(meta, "namespace")
	o.name = str(meta, "name")
	if o.name == "" {
		o.name = str(meta, "generateName")
	}
	return o
}

// group is the API group of the object's apiVersion.
func (o object) group() string {
	g, _, ok := strings.Cut(o.apiVersion, "/")
	if !ok {
		return ""
	}
	return g
}

// isWorkload tells whether inject handles the object's kind.
func (o object) isWorkload() bool {
	w, ok := workloadKinds[o.kind]
	if !ok {
		return false
	}
	for _, g := range w.groups {
		if g == o.group() {
			return true
		}
	}
	return false
}

// isList tells whether the object is a List whose items are objects.
func (o object) isList() bool {
	return strings.HasSuffix(o.kind, "List") && get(o.node, "items") != nil &&
		get(o.node, "items").Kind == yaml.SequenceNode
}

// template returns the object's pod template mapping (metadata and spec),
// or nil when the path is missing or not a mapping. With owned, aliases on
// the way are replaced by copies, for changing the template.
func (o object) template(owned bool) *yaml.Node {
	w := workloadKinds[o.kind]
	n := o.node
	for _, k := range w.template {
		if owned {
			n = own(n, k)
		} else {
			n = get(n, k)
		}
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
	}
	return n
}

// label is the object for the report: "Deployment shop/web".
func (o object) label() string {
	s := o.kind
	if s == "" {
		s = "(no kind)"
	}
	switch {
	case o.namespace != "" && o.name != "":
		return s + " " + o.namespace + "/" + o.name
	case o.name != "":
		return s + " " + o.name
	}
	return s
}

// jobLike tells whether the pod runs to completion.
func (o object) jobLike(spec *yaml.Node) bool {
	switch o.kind {
	case "Job", "CronJob":
		return true
	case "Pod":
		rp := str(spec, "restartPolicy")
		return rp == "Never" || rp == "OnFailure"
	}
	return false
}
