package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// checkProto walks n against protobuf message md the way Istio's CRDs
// read it: fields by their JSON (lowerCamelCase) names, enums by name,
// durations as strings such as 1.5s or 5m, wrappers as plain values, at
// most one field of a oneof. Like check, it records lines and reports
// unknown fields, duplicates and wrong types.
func (d *doc) checkProto(n *yaml.Node, md protoreflect.MessageDescriptor, path string) {
	n, ok := d.enter(n, path)
	if !ok {
		return
	}
	switch md.FullName() {
	case "google.protobuf.Duration":
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			d.bad(path, "must be a duration such as 1.5s or 5m")
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			d.bad(path, "%q is not a duration such as 1.5s or 5m", n.Value)
		}
		return
	case "google.protobuf.BoolValue", "google.protobuf.UInt32Value", "google.protobuf.Int32Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int64Value", "google.protobuf.DoubleValue",
		"google.protobuf.FloatValue", "google.protobuf.StringValue":
		d.checkProtoScalar(n, md.Fields().ByName("value"), path)
		return
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.Any":
		return
	}
	if n.Kind != yaml.MappingNode {
		d.bad(path, "must be a mapping")
		return
	}
	fields := md.Fields()
	seen := map[string]bool{}
	oneofs := map[protoreflect.FullName]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		d.lines[p] = k.Line
		if seen[k.Value] {
			d.add(p, "duplicate field")
			continue
		}
		seen[k.Value] = true
		fd := fields.ByJSONName(k.Value)
		if fd == nil {
			if alt := fields.ByName(protoreflect.Name(k.Value)); alt != nil {
				d.add(p, "unknown field (it is spelled %s)", alt.JSONName())
			} else {
				d.add(p, "unknown field")
			}
			continue
		}
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() && !isNull(v) {
			if other, dup := oneofs[o.FullName()]; dup {
				d.add(p, "only one of %s and %s may be set", other, k.Value)
			}
			oneofs[o.FullName()] = k.Value
		}
		d.checkProtoField(v, fd, p)
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// enter dereferences an alias, records n's line and bounds the work; it
// returns false when there is nothing (more) to check.
func (d *doc) enter(n *yaml.Node, path string) (*yaml.Node, bool) {
	d.work++
	if d.work > maxWork || strings.Count(path, ".")+strings.Count(path, "[") > maxDepth {
		if !d.fatal {
			d.bad(path, "document too large or too deeply nested (aliases included)")
		}
		return nil, false
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	return n, !isNull(n)
}

func (d *doc) checkProtoField(n *yaml.Node, fd protoreflect.FieldDescriptor, path string) {
	switch {
	case fd.IsMap():
		n, ok := d.enter(n, path)
		if !ok {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.bad(path, "must be a mapping")
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := path + "[" + k.Value + "]"
			d.lines[p] = k.Line
			d.checkMapKey(k, fd.MapKey(), p)
			if seen[k.Value] {
				d.add(p, "duplicate key")
			}
			seen[k.Value] = true
			d.checkProtoValue(v, fd.MapValue(), p)
		}
	case fd.IsList():
		n, ok := d.enter(n, path)
		if !ok {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.bad(path, "must be a list")
			return
		}
		for i, e := range n.Content {
			d.checkProtoValue(e, fd, fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		d.checkProtoValue(n, fd, path)
	}
}

func (d *doc) checkMapKey(k *yaml.Node, fd protoreflect.FieldDescriptor, path string) {
	if k.Kind != yaml.ScalarNode {
		d.bad(path, "key must be a scalar")
		return
	}
	if fd.Kind() == protoreflect.StringKind {
		if k.Tag != "!!str" {
			d.bad(path, "key %q must be a string (quote it)", k.Value)
		}
		return
	}
	if _, err := strconv.ParseUint(k.Value, 10, 32); err != nil {
		d.bad(path, "key %q must be a non-negative integer", k.Value)
	}
}

func (d *doc) checkProtoValue(n *yaml.Node, fd protoreflect.FieldDescriptor, path string) {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		d.checkProto(n, fd.Message(), path)
		return
	}
	n, ok := d.enter(n, path)
	if !ok {
		return
	}
	d.checkProtoScalar(n, fd, path)
}

func (d *doc) checkProtoScalar(n *yaml.Node, fd protoreflect.FieldDescriptor, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.bad(path, "must be a single value")
		return
	}
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if n.Tag != "!!str" || fd.Enum().Values().ByName(protoreflect.Name(n.Value)) == nil {
			d.bad(path, "%q is not one of %s", n.Value, enumNames(fd.Enum()))
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
		if n.Tag != "!!str" {
			d.bad(path, "must be a string%s", quoteHint(n))
		}
	case protoreflect.BoolKind:
		if n.Tag != "!!bool" {
			d.bad(path, "must be true or false")
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		d.checkInt(n, path, 32, true)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		d.checkInt(n, path, 64, true)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		d.checkInt(n, path, 32, false)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		d.checkInt(n, path, 64, false)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if n.Tag != "!!int" && n.Tag != "!!float" {
			d.bad(path, "must be a number")
		}
	}
}

func (d *doc) checkInt(n *yaml.Node, path string, bits int, signed bool) {
	if n.Tag != "!!int" {
		d.bad(path, "must be an integer")
		return
	}
	var err error
	if signed {
		_, err = strconv.ParseInt(n.Value, 0, bits)
	} else {
		_, err = strconv.ParseUint(n.Value, 0, bits)
	}
	if err != nil {
		if !signed && strings.HasPrefix(n.Value, "-") {
			d.bad(path, "%s is negative: must be a non-negative integer", n.Value)
			return
		}
		d.bad(path, "%s is out of range for a %d-bit integer", n.Value, bits)
	}
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	vs := ed.Values()
	names := make([]string, vs.Len())
	for i := range names {
		names[i] = string(vs.Get(i).Name())
	}
	return strings.Join(names, ", ")
}

// toJSON converts a checked node to a value encoding/json can marshal:
// mappings become map[string]any whatever their keys' tags. It visits at
// most maxWork nodes (aliases included), and leaves out the root's
// status, which is not read.
func toJSON(n *yaml.Node) (any, error) {
	work := 0
	return toJSONNode(n, &work, true)
}

func toJSONNode(n *yaml.Node, work *int, root bool) (any, error) {
	if *work++; *work > maxWork {
		return nil, errors.New("document too large (aliases included)")
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return toJSONNode(n.Content[0], work, root)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if root && n.Content[i].Value == "status" {
				continue
			}
			v, err := toJSONNode(n.Content[i+1], work, false)
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, e := range n.Content {
			v, err := toJSONNode(e, work, false)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
