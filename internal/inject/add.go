package inject

import (
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
)

// add edits the pod template in place and records what it added in the
// status annotation.
func (p sidecar) add(o object, tmpl *yaml.Node) error {
	st := status{Version: p.opts.Version, Sidecar: "native"}
	if p.opts.ClassicSidecar {
		st.Sidecar = "classic"
	}
	meta, err := ensure(tmpl, "metadata", yaml.MappingNode, "metadata", &st.Created, "spec")
	if err != nil {
		return err
	}
	spec := own(tmpl, "spec")
	// A template written in flow style ("spec: {containers: [...]}")
	// becomes a block: what inject adds does not fit on one line.
	tmpl.Style, meta.Style, spec.Style = 0, 0, 0

	labels, err := ensure(meta, "labels", yaml.MappingNode, "metadata.labels", &st.Created, "annotations")
	if err != nil {
		return err
	}
	if len(labels.Content) == 0 {
		labels.Style = 0 // "labels: {}" becomes a block
	}
	have := stringMap(labels)
	for _, l := range [][2]string{
		{LabelControlPlaneNamespace, p.opts.ControlPlaneNamespace},
		{LabelWorkloadPrefix + strings.ToLower(o.kind), o.name},
	} {
		if _, ok := have[l[0]]; ok || len(validation.IsValidLabelValue(l[1])) > 0 || l[1] == "" {
			continue
		}
		set(labels, l[0], strNode(l[1]))
		st.Labels = append(st.Labels, l[0])
	}

	init, proxy := p.initContainer(), p.proxyContainer()
	initNode, err := ToNode(init)
	if err != nil {
		return err
	}
	proxyNode, err := ToNode(proxy)
	if err != nil {
		return err
	}
	if o.kind == "Pod" && str(spec, "serviceAccountName") == "" && str(spec, "serviceAccount") == "" {
		// The projected token needs a ServiceAccount, and a Pod's is
		// checked before admission would set "default": set it here.
		// (Pod templates get it when their pods are created.)
		created := "spec.serviceAccountName"
		if getRaw(spec, "serviceAccountName") != nil {
			created += ":null"
		}
		set(spec, "serviceAccountName", strNode(defaultServiceAccount), "initContainers", "containers")
		st.Created = append(st.Created, created)
	}

	inits, err := ensure(spec, "initContainers", yaml.SequenceNode, "spec.initContainers", &st.Created, "containers")
	if err != nil {
		return err
	}
	if p.opts.ClassicSidecar {
		// Last, so that the app's own init containers still reach the
		// network: nothing listens on the proxy's ports before the
		// containers start.
		inits.Content = append(inits.Content, initNode)
		st.InitContainers = []string{InitContainerName}
		containers := own(spec, "containers")
		containers.Style = 0
		containers.Content = append([]*yaml.Node{proxyNode}, containers.Content...)
		st.Containers = []string{ProxyContainerName}
	} else {
		// First: the proxy then runs before the app's init containers,
		// whose traffic is redirected already.
		inits.Content = append([]*yaml.Node{initNode, proxyNode}, inits.Content...)
		st.InitContainers = []string{InitContainerName, ProxyContainerName}
	}
	inits.Style = 0

	volumes, err := ensure(spec, "volumes", yaml.SequenceNode, "spec.volumes", &st.Created)
	if err != nil {
		return err
	}
	for _, v := range p.volumes() {
		n, err := ToNode(v)
		if err != nil {
			return err
		}
		volumes.Content = append(volumes.Content, n)
		st.Volumes = append(st.Volumes, v.Name)
	}
	volumes.Style = 0

	annotations, err := ensure(meta, "annotations", yaml.MappingNode, "metadata.annotations", &st.Created)
	if err != nil {
		return err
	}
	annotations.Style = 0 // block style: the values are long
	set(annotations, AnnotationProxyVersion, strNode(p.opts.Version))
	st.Annotations = append(st.Annotations, AnnotationProxyVersion)
	if p.embedded {
		set(annotations, AnnotationTrustAnchors, strNode(string(p.opts.TrustAnchorsPEM)))
		st.Annotations = append(st.Annotations, AnnotationTrustAnchors)
	}
	set(annotations, AnnotationStatus, strNode(st.encode()))
	return nil
}

// ensure returns the mapping or sequence at key in parent, creating it
// (and recording pathName in created) when it is missing or null.
func ensure(parent *yaml.Node, key string, kind yaml.Kind, pathName string, created *[]string, before ...string) (*yaml.Node, error) {
	v := own(parent, key)
	if v != nil && v.Kind == kind {
		return v, nil
	}
	if !isNull(v) {
		return nil, fmt.Errorf("%s at line %d is %s", pathName, v.Line, kindName(v))
	}
	n := mapNode()
	if kind == yaml.SequenceNode {
		n = seqNode()
	}
	if v == nil {
		*created = append(*created, pathName)
	} else {
		*created = append(*created, pathName+":null")
	}
	set(parent, key, n, before...)
	return n, nil
}

// warnings are what the user should know about an injected pod.
func (p sidecar) warnings(podSpec *yaml.Node) []string {
	var w []string
	podUID := str(get(podSpec, "securityContext"), "runAsUser")
	uid := strconv.FormatInt(p.s.uid, 10)
	for _, list := range []string{"initContainers", "containers"} {
		seq := get(podSpec, list)
		if seq == nil {
			continue
		}
		for _, c := range seq.Content {
			name := str(c, "name")
			if name == ProxyContainerName || name == InitContainerName {
				continue
			}
			runAs := str(get(c, "securityContext"), "runAsUser")
			if runAs == "" {
				runAs = podUID
			}
			if runAs == uid {
				w = append(w, fmt.Sprintf("container %s runs as uid %s, the proxy's: its traffic bypasses the proxy", name, uid))
			}
		}
	}
	if p.opts.ClassicSidecar && p.jobLike {
		w = append(w, fmt.Sprintf("classic sidecar: the pod completes only once its containers POST http://localhost:%d/shutdown", ProxyAdminPort))
	}
	return w
}
