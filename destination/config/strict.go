package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	yaml "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// doc is one YAML document being checked: where its fields are, and the
// problems found so far.
type doc struct {
	file     string
	root     *yaml.Node
	lines    map[string]int // field path → line
	problems Problems
	// fatal is set by a problem that keeps the document from being
	// decoded (a value of the wrong type); unknown fields are not.
	fatal bool
	// work counts nodes visited, to stop on alias cycles and bombs.
	work int
}

// maxWork bounds the nodes one document's check visits (aliases
// included), and maxDepth its nesting.
const (
	maxWork  = 100000
	maxDepth = 64
)

func newDoc(file string, root *yaml.Node) *doc {
	return &doc{file: file, root: root, lines: map[string]int{}}
}

// add records a problem at field.
func (d *doc) add(field, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: d.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// bad records a problem that keeps the document from being decoded.
func (d *doc) bad(field, format string, args ...any) {
	d.fatal = true
	d.add(field, format, args...)
}

// line is where field is, or its closest parent that is present.
func (d *doc) line(field string) int {
	for f := field; ; {
		if l, ok := d.lines[f]; ok {
			return l
		}
		i := strings.LastIndexAny(f, ".[")
		if i <= 0 {
			return d.root.Line
		}
		f = f[:i]
	}
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	intOrStringType = reflect.TypeFor[intstr.IntOrString]()
	durationType    = reflect.TypeFor[metav1.Duration]()
)

// check walks n against Go type t the way encoding/json would decode it
// (field names from json tags, inline structs flattened), recording every
// field's line and reporting unknown fields, duplicate keys and values of
// the wrong type. Only a document without problems is decoded.
func (d *doc) check(n *yaml.Node, t reflect.Type, path string) {
	d.work++
	if d.work > maxWork || strings.Count(path, ".")+strings.Count(path, "[") > maxDepth {
		if !d.fatal {
			d.bad(path, "document too large or too deeply nested (aliases included)")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == intOrStringType:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!str") {
			d.bad(path, "must be a number or a name")
		}
		return
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			d.bad(path, "must be a duration such as 5s")
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			d.bad(path, "%q is not a duration such as 5s or 1m30s", n.Value)
		}
		return
	case reflect.PointerTo(t).Implements(jsonUnmarshaler):
		return // a type with its own syntax (time, quantity); decoding checks it
	}
	switch t.Kind() {
	case reflect.Struct:
		d.checkStruct(n, t, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.bad(path, "must be a mapping")
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
				d.lines[path] = k.Line
				d.bad(path, "key %q must be a string (quote it)", k.Value)
				continue
			}
			p := path + "[" + k.Value + "]"
			d.lines[p] = k.Line
			if seen[k.Value] {
				d.add(p, "duplicate key")
			}
			seen[k.Value] = true
			d.check(v, t.Elem(), p)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.bad(path, "must be a list")
			return
		}
		for i, e := range n.Content {
			d.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			d.bad(path, "must be a string%s", quoteHint(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.bad(path, "must be true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.bad(path, "must be an integer")
		} else if _, err := strconv.ParseInt(n.Value, 0, t.Bits()); err != nil {
			d.bad(path, "%s is out of range for a %d-bit integer", n.Value, t.Bits())
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.bad(path, "must be a non-negative integer")
		} else if _, err := strconv.ParseUint(n.Value, 0, t.Bits()); err != nil {
			d.bad(path, "%s is out of range for an unsigned %d-bit integer", n.Value, t.Bits())
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.bad(path, "must be a number")
		}
	case reflect.Interface:
	default:
		d.bad(path, "cannot be read (%s)", t)
	}
}

func quoteHint(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf(" (quote %s to make it one)", n.Value)
	}
	return ""
}

func (d *doc) checkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		d.bad(path, "must be a mapping")
		return
	}
	fields := jsonFields(t)
	seen := map[string]bool{}
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
		ft, ok := fields[k.Value]
		if !ok {
			d.add(p, "unknown field")
			continue
		}
		d.check(v, ft, p)
	}
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields returns the fields encoding/json decodes into t, by name.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if (f.Anonymous && name == "") || strings.Contains(","+opts+",", ",inline,") {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	fieldCache.Store(t, out)
	return out
}

// decode checks the document against v's type and, when it has no
// problems, decodes it into v. It returns whether v was filled.
func (d *doc) decode(v any) bool {
	d.check(d.root, reflect.TypeOf(v).Elem(), "")
	if d.fatal {
		return false
	}
	var generic any
	if err := d.root.Decode(&generic); err != nil {
		d.bad("", "%v", err)
		return false
	}
	b, err := json.Marshal(generic)
	if err != nil {
		d.bad("", "%v", err)
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		field := ""
		var te *json.UnmarshalTypeError
		if ok := asTypeError(err, &te); ok {
			field = te.Field
		}
		d.bad(field, "%v", err)
		return false
	}
	return true
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}
