package inject

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"
)

// chunk is one document of a YAML stream as it was written: the separator
// line that opened it (empty for a first document without one) and the
// text up to the next separator. Writing back the chunks of a stream
// unchanged gives back the stream byte for byte.
type chunk struct {
	sep  []byte // "---\n", "--- # comment\n" or empty
	body []byte
	line int // 1-based line of the body's first line in the stream
}

func (c chunk) raw() []byte { return append(append([]byte(nil), c.sep...), c.body...) }

// splitStream cuts a YAML stream into documents at separator lines, the
// way kubectl does: a line starting with "---" followed by nothing but
// spaces or a comment.
func splitStream(input []byte) []chunk {
	var chunks []chunk
	cur := chunk{line: 1}
	start := 0
	line := 1
	for pos := 0; pos < len(input); {
		end := bytes.IndexByte(input[pos:], '\n')
		if end < 0 {
			end = len(input)
		} else {
			end += pos + 1
		}
		if isSeparator(input[pos:end]) {
			cur.body = input[start:pos]
			if len(cur.sep) > 0 || len(cur.body) > 0 {
				chunks = append(chunks, cur)
			}
			cur = chunk{sep: input[pos:end], line: line + 1}
			start = end
		}
		pos = end
		line++
	}
	cur.body = input[start:]
	if len(cur.sep) > 0 || len(cur.body) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

func isSeparator(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}

// parseChunk parses a document. It returns nil for a document with no
// content (only comments, or null).
func parseChunk(c chunk) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(c.body))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("YAML at line %d: %w", c.line, err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err == nil {
			return nil, fmt.Errorf("YAML at line %d: a second document without a --- line before it", c.line)
		}
		return nil, fmt.Errorf("YAML at line %d: %w", c.line, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("YAML at line %d: a document must be a mapping (an object), not %s", c.line, kindName(root))
	}
	return &doc, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a mapping"
}

// style is how a document was written, so that a changed document is
// written back the same way.
type style struct {
	json       bool   // a JSON object: written back as indented JSON
	indent     int    // spaces per level
	compact    bool   // sequences in mappings not indented ("key:\n- a")
	jsonPrefix string // the JSON indentation
}

// detectStyle looks at a parsed document and its text.
func detectStyle(doc *yaml.Node, body []byte) style {
	root := doc.Content[0]
	if root.Style&yaml.FlowStyle != 0 && !hasAlias(root) {
		return style{json: true, jsonPrefix: jsonIndent(body)}
	}
	s := style{indent: 0, compact: true}
	seqSeen := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind != yaml.MappingNode || n.Style&yaml.FlowStyle != 0 {
			for _, c := range n.Content {
				walk(c)
			}
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Style&yaml.FlowStyle == 0 && v.Line > k.Line && len(v.Content) > 0 {
				switch v.Kind {
				case yaml.MappingNode:
					if s.indent == 0 && v.Content[0].Column > k.Column {
						s.indent = v.Content[0].Column - k.Column
					}
				case yaml.SequenceNode:
					if !seqSeen {
						seqSeen = true
						// The first item's node starts after "- ".
						s.compact = v.Content[0].Column-2 <= k.Column
					}
				}
			}
			walk(v)
		}
	}
	walk(root)
	if s.indent < 2 || s.indent > 8 {
		s.indent = 2
	}
	return s
}

// jsonIndent returns the indentation of the first indented line of a JSON
// document, or two spaces.
func jsonIndent(body []byte) string {
	for _, line := range bytes.Split(body, []byte("\n")) {
		trimmed := bytes.TrimLeft(line, " \t")
		if len(trimmed) > 0 && len(trimmed) < len(line) {
			return string(line[:len(line)-len(trimmed)])
		}
	}
	return "  "
}

// encode writes a document back in its style, after the separator line
// it had.
func encode(sep []byte, doc *yaml.Node, s style) ([]byte, error) {
	var b bytes.Buffer
	b.Write(sep)
	if s.json {
		var j bytes.Buffer
		if err := writeJSON(&j, doc.Content[0]); err != nil {
			return nil, err
		}
		var out bytes.Buffer
		if err := jsonIndentTo(&out, j.Bytes(), s.jsonPrefix); err != nil {
			return nil, err
		}
		b.Write(out.Bytes())
		b.WriteByte('\n')
		return b.Bytes(), nil
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(s.indent)
	if s.compact {
		enc.CompactSeqIndent()
	}
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
