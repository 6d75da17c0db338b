package inject

import (
	"encoding/json"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// Helpers over yaml.v3 nodes. Documents are edited in place, so what inject
// does not touch — key order, comments, quoting — stays as it was.

// get returns the value of key in mapping m, or nil; an alias is
// followed (for reading: see own).
func get(m *yaml.Node, key string) *yaml.Node {
	v := getRaw(resolve(m), key)
	return resolve(v)
}

func getRaw(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// own returns the value of key in mapping m for changing it: an alias
// ("spec: *common") is replaced by a copy of what it points to, so the
// change does not reach the anchor's other uses (a Deployment's selector
// sharing its labels with the template must not change).
func own(m *yaml.Node, key string) *yaml.Node {
	v := getRaw(m, key)
	if v == nil || v.Kind != yaml.AliasNode {
		return v
	}
	c := unanchored(resolve(v))
	set(m, key, c)
	return c
}

// unanchored copies n deeply without its anchors (aliases inside still
// point to the originals).
func unanchored(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, e := range n.Content {
		if e.Kind == yaml.AliasNode {
			c.Content[i] = e
			continue
		}
		c.Content[i] = unanchored(e)
	}
	return &c
}

// hasAlias tells whether n has an alias anywhere.
func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

// path follows keys from m, reading.
func path(m *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		m = get(m, k)
	}
	return m
}

// str returns the value of a scalar key of m, or "".
func str(m *yaml.Node, key string) string {
	if v := get(m, key); v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() != "!!null" {
		return v.Value
	}
	return ""
}

// isNull tells whether n is absent or null.
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// set sets key in mapping m to v, replacing the value in place or
// appending the key (before the first of before that m has, if any).
func set(m *yaml.Node, key string, v *yaml.Node, before ...string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	k := strNode(key)
	for _, b := range before {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == b {
				m.Content = append(m.Content[:i], append([]*yaml.Node{k, v}, m.Content[i:]...)...)
				return
			}
		}
	}
	m.Content = append(m.Content, k, v)
}

// del removes key from mapping m and reports whether it was there.
func del(m *yaml.Node, key string) bool {
	if m == nil || m.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return true
		}
	}
	return false
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func mapNode() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }
func seqNode() *yaml.Node { return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"} }
func nullNode() *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}

// ToNode converts a Kubernetes API value (anything encoding/json
// marshals) to a block-style YAML node, as inject writes it and install
// renders its manifests.
func ToNode(v any) (*yaml.Node, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(j, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 {
		return nil, fmt.Errorf("inject: converting %T: no content", v)
	}
	plain(doc.Content[0])
	return doc.Content[0], nil
}

// plain removes the flow and quoting styles JSON input leaves, so the
// encoder picks the plain block style (and quotes only where needed); a
// string of several lines (a PEM certificate) becomes a literal block.
func plain(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && strings.Contains(n.Value, "\n") {
		n.Style = yaml.LiteralStyle
	}
	for _, c := range n.Content {
		plain(c)
	}
}

// names returns the "name" of each item of sequence s.
func names(s *yaml.Node) []string {
	s = resolve(s)
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]string, 0, len(s.Content))
	for _, item := range s.Content {
		out = append(out, str(item, "name"))
	}
	return out
}

// removeNamed removes the items of sequence s whose name is in drop and
// returns how many it removed.
func removeNamed(s *yaml.Node, drop map[string]bool) int {
	if s == nil || s.Kind != yaml.SequenceNode {
		return 0
	}
	kept := s.Content[:0]
	n := 0
	for _, item := range s.Content {
		if drop[str(item, "name")] {
			n++
			continue
		}
		kept = append(kept, item)
	}
	s.Content = kept
	return n
}

// stringMap reads a mapping of strings (labels, annotations); nil when
// absent.
func stringMap(m *yaml.Node) map[string]string {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	out := make(map[string]string, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		out[m.Content[i].Value] = resolve(m.Content[i+1]).Value
	}
	return out
}
