package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/meshlite/meshlite/destination/registry"
	"github.com/meshlite/meshlite/destination/translate"
)

// The API groups of the kinds translated, and the versions read.
const (
	IstioNetworkingGroup = "networking.istio.io"
	IstioSecurityGroup   = "security.istio.io"
	GatewayGroup         = "gateway.networking.k8s.io"
)

// TrafficKinds are the kinds read besides Service and HealthCheck, by
// group, with the versions accepted (the same schema in each).
var TrafficKinds = map[string]map[string][]string{
	IstioNetworkingGroup: {
		translate.KindVirtualService:  {"v1", "v1beta1", "v1alpha3"},
		translate.KindDestinationRule: {"v1", "v1beta1", "v1alpha3"},
	},
	IstioSecurityGroup: {
		translate.KindPeerAuthentication:  {"v1", "v1beta1"},
		translate.KindAuthorizationPolicy: {"v1", "v1beta1"},
	},
	GatewayGroup: {
		translate.KindHTTPRoute: {"v1", "v1beta1"},
	},
}

// parseTraffic reads a document of a group TrafficKinds lists. It
// reports whether it handled the document (false: an unknown group).
func (f *File) parseTraffic(d *doc, apiVersion, kind string, o Options) bool {
	group, version, _ := strings.Cut(apiVersion, "/")
	kinds, ok := TrafficKinds[group]
	if !ok {
		return false
	}
	versions, ok := kinds[kind]
	switch {
	case !ok:
		d.warn("kind", "%s %s is not read by meshlite: the document is ignored", apiVersion, kind)
		return true
	case !contains(versions, version):
		d.add("apiVersion", "%s %s is not read: use %s/%s", apiVersion, kind, group, strings.Join(versions, " or "+group+"/"))
		return true
	}
	var r translate.Resource
	switch kind {
	case translate.KindVirtualService:
		var obj networkingv1.VirtualService
		if d.decodeIstio(&obj, &obj.ObjectMeta, &obj.Spec) {
			r = &translate.VirtualService{Source: d.source(kind, obj.ObjectMeta), Spec: &obj.Spec}
		}
	case translate.KindDestinationRule:
		var obj networkingv1.DestinationRule
		if d.decodeIstio(&obj, &obj.ObjectMeta, &obj.Spec) {
			r = &translate.DestinationRule{Source: d.source(kind, obj.ObjectMeta), Spec: &obj.Spec}
		}
	case translate.KindPeerAuthentication:
		var obj securityv1.PeerAuthentication
		if d.decodeIstio(&obj, &obj.ObjectMeta, &obj.Spec) {
			r = &translate.PeerAuthentication{Source: d.source(kind, obj.ObjectMeta), Spec: &obj.Spec}
		}
	case translate.KindAuthorizationPolicy:
		var obj securityv1.AuthorizationPolicy
		if d.decodeIstio(&obj, &obj.ObjectMeta, &obj.Spec) {
			r = &translate.AuthorizationPolicy{Source: d.source(kind, obj.ObjectMeta), Spec: &obj.Spec}
		}
	case translate.KindHTTPRoute:
		var obj gatewayv1.HTTPRoute
		if d.decode(&obj) {
			d.checkMeta(obj.ObjectMeta)
			r = &translate.HTTPRoute{Source: d.source(kind, obj.ObjectMeta), Spec: &obj.Spec}
		}
	}
	if r == nil || len(d.problems.Errors()) > 0 {
		return true
	}
	for _, p := range translate.Compile(r, o) {
		d.problems = append(d.problems, fromTranslate(p))
	}
	if len(d.problems.Errors()) == 0 {
		f.Traffic.Add(r)
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// decodeIstio checks an Istio document (metadata against Kubernetes'
// ObjectMeta, spec against the protobuf message, status ignored) and
// decodes it into obj with the upstream types, whose spec is read by
// Istio's own JSON decoding.
func (d *doc) decodeIstio(obj any, meta *metav1.ObjectMeta, spec proto.Message) bool {
	d.checkIstio(spec.ProtoReflect().Descriptor())
	if d.fatal {
		return false
	}
	v, err := toJSON(d.root)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(v); err == nil {
			err = json.Unmarshal(b, obj)
		}
	}
	if err != nil {
		d.bad("spec", "%v", err)
		return false
	}
	d.checkMeta(*meta)
	return true
}

var objectMetaType = reflect.TypeFor[metav1.ObjectMeta]()

func (d *doc) checkIstio(md protoreflect.MessageDescriptor) {
	n := d.root
	d.lines[""] = n.Line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		d.lines[k.Value] = k.Line
		switch k.Value {
		case "apiVersion", "kind":
		case "metadata":
			d.check(v, objectMetaType, "metadata")
		case "spec":
			d.checkProto(v, md, "spec")
		case "status":
			// written by Istio; not read
		default:
			d.add(k.Value, "unknown field")
		}
	}
}

// checkMeta checks the name and namespace.
func (d *doc) checkMeta(m metav1.ObjectMeta) {
	checkName(d, "metadata.name", m.Name, validation.IsDNS1123Subdomain)
	if m.Namespace != "" {
		checkName(d, "metadata.namespace", m.Namespace, validation.IsDNS1123Label)
	}
}

// source makes a resource's Source: namespace defaulted, lines kept.
func (d *doc) source(kind string, m metav1.ObjectMeta) translate.Source {
	ns := m.Namespace
	if ns == "" {
		ns = registry.DefaultNamespace
	}
	return translate.Source{Kind: kind, Namespace: ns, Name: m.Name, File: d.file, Line: d.root.Line,
		Lines: maps.Clone(d.lines), Created: m.CreationTimestamp.Time}
}

// warn records a warning at field.
func (d *doc) warn(field, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: d.line(field), Field: field, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// fromTranslate turns a translation problem into a Problem with its file
// and line.
func fromTranslate(p translate.Problem) Problem {
	out := Problem{Field: p.Field, Msg: p.Msg, Warning: p.Warning}
	if s := p.Source; s != nil {
		out.File, out.Line = s.File, s.LineOf(p.Field)
		if s.File == "" {
			out.File = s.Key()
		}
	}
	return out
}

// ParseObject parses one object of a kind TrafficKinds lists, as read
// from the Kubernetes API (JSON), with the checks ParseFile applies to a
// document. Problems name the object ("VirtualService default/reviews")
// instead of a file and line. An object of another kind is a problem.
func ParseObject(data []byte, o Options) (translate.Resource, Problems) {
	f, probs := ParseFile("", data, o)
	name := objectName(data)
	for i := range probs {
		probs[i].File, probs[i].Line = name, 0
	}
	if f == nil {
		return nil, probs
	}
	rs := f.Traffic.Resources()
	if len(rs) != 1 {
		return nil, append(probs, Problem{File: name, Msg: "not an object of a kind meshlite translates"})
	}
	s := rs[0].Src()
	s.File, s.Line, s.Lines = "", 0, nil
	return rs[0], probs
}

// objectName is "Kind namespace/name" of a JSON object, for problems.
func objectName(data []byte) string {
	var obj struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name, Namespace string
		} `json:"metadata"`
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return "object"
	}
	return obj.Kind + " " + obj.Metadata.Namespace + "/" + obj.Metadata.Name
}
