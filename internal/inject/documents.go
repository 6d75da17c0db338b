package inject

import (
	"bytes"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// doc is a parsed document of the input.
type doc struct {
	chunk
	node  *yaml.Node // the document node; nil for one without content
	style style      // how it was written, seen before any change
}

func parseAll(input []byte) ([]doc, error) {
	chunks := splitStream(input)
	docs := make([]doc, len(chunks))
	for i, c := range chunks {
		n, err := parseChunk(c)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		docs[i] = doc{chunk: c, node: n}
		if n != nil {
			docs[i].style = detectStyle(n, c.body)
		}
	}
	return docs, nil
}

// namespaces collects the annotations of the Namespace objects in docs.
func namespaces(docs []doc) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, d := range docs {
		if d.node == nil {
			continue
		}
		forEachObject(d.node.Content[0], func(o object) {
			if o.kind == "Namespace" && o.group() == "" && o.name != "" {
				a := stringMap(path(o.node, "metadata", "annotations"))
				if a == nil {
					a = map[string]string{}
				}
				out[o.name] = a
			}
		})
	}
	return out
}

// forEachObject calls f with root, or with each item when root is a List.
func forEachObject(root *yaml.Node, f func(object)) {
	o := newObject(root, "", "")
	if !o.isList() {
		f(o)
		return
	}
	itemKind, itemVersion := strings.TrimSuffix(o.kind, "List"), o.apiVersion
	if itemKind == "" { // kind: List holds any kind
		itemVersion = ""
	}
	for _, item := range get(root, "items").Content {
		if item.Kind == yaml.MappingNode {
			f(newObject(item, itemKind, itemVersion))
		}
	}
}

// rewrite calls f on every object of docs and writes the stream back,
// re-encoding only the documents f changed.
func rewrite(docs []doc, f func(object) (Result, bool, error)) ([]byte, []Result, error) {
	var out bytes.Buffer
	var results []Result
	for i, d := range docs {
		if d.node == nil {
			out.Write(d.raw())
			continue
		}
		changed := false
		item := -1
		root := d.node.Content[0]
		list := newObject(root, "", "").isList()
		var ferr error
		forEachObject(root, func(o object) {
			if ferr != nil {
				return
			}
			if list {
				item++
			}
			r, ch, err := f(o)
			if err != nil {
				ferr = fmt.Errorf("document %d (line %d): %w", i+1, d.line, err)
				return
			}
			r.Document, r.Item = i, item
			results = append(results, r)
			changed = changed || ch
		})
		if ferr != nil {
			return nil, nil, ferr
		}
		if !changed {
			out.Write(d.raw())
			continue
		}
		b, err := encode(d.sep, d.node, d.style)
		if err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		out.Write(b)
	}
	return out.Bytes(), results, nil
}
