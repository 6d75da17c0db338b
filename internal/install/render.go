package install

import (
	"bytes"
	"slices"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshlite/meshlite/internal/inject"
)

// encodeDocs writes docs as a YAML stream, each document after a "---"
// line, its comment above it, its keys in the API types' order with
// apiVersion and kind first, and no empty status or null
// creationTimestamp.
func encodeDocs(docs []document) ([]byte, error) {
	var b bytes.Buffer
	for _, d := range docs {
		n, err := inject.ToNode(d.obj)
		if err != nil {
			return nil, err
		}
		tidy(n)
		b.WriteString("---\n")
		if d.comment != "" {
			for _, line := range bytes.Split([]byte(d.comment), []byte("\n")) {
				b.WriteString("# ")
				b.Write(line)
				b.WriteByte('\n')
			}
		}
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		enc.CompactSeqIndent()
		if err := enc.Encode(n); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// tidy orders keys the way manifests are usually written (apiVersion
// and kind first; a rule's apiGroups, resources, verbs; a pod's volumes
// last) and drops what the API server fills in: status, a null
// creationTimestamp, an empty spec or strategy.
func tidy(n *yaml.Node) {
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			tidy(c)
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	var kept []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Value == "creationTimestamp" && v.Tag == "!!null",
			k.Value == "status",
			(k.Value == "spec" || k.Value == "strategy") && v.Kind == yaml.MappingNode && len(v.Content) == 0:
			continue
		}
		tidy(v)
		kept = append(kept, k, v)
	}
	n.Content = kept
	for _, order := range [][]string{{"apiVersion", "kind"}, {"apiGroups", "resources", "verbs"}} {
		moveFirst(n, order)
	}
	if has(n, "containers") {
		moveLast(n, "volumes")
	}
}

func has(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// moveFirst puts keys, those n has, first and in that order.
func moveFirst(n *yaml.Node, keys []string) {
	var first, rest []*yaml.Node
	for _, k := range keys {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				first = append(first, n.Content[i], n.Content[i+1])
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !slices.Contains(keys, n.Content[i].Value) {
			rest = append(rest, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = append(first, rest...)
}

func moveLast(n *yaml.Node, key string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			k, v := n.Content[i], n.Content[i+1]
			n.Content = append(append(n.Content[:i:i], n.Content[i+2:]...), k, v)
			return
		}
	}
}
