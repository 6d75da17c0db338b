package config

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshlite/meshlite/destination/translate"
)

// The kinds this package reads.
const (
	ServiceAPIVersion     = "v1"
	ServiceKind           = "Service"
	HealthCheckAPIVersion = "meshlite.io/v1alpha1"
	HealthCheckKind       = "HealthCheck"
)

// Options are what checking needs besides the files: the cluster domain
// (for host names) and the root namespace (for security policies).
type Options = translate.Options

// File is the configuration one file declares.
type File struct {
	Path         string
	Services     []*Service
	HealthChecks []*HealthCheck
	// Traffic holds the Istio and Gateway API resources, compiled.
	Traffic translate.Set
	// Skipped are documents of kinds this version does not read.
	Skipped []Skipped
	// Warnings are problems that do not reject the file.
	Warnings Problems
}

// Skipped is a document of an unknown kind.
type Skipped struct {
	File             string
	Line             int
	APIVersion, Kind string
}

// ParseFile parses the documents of one file (named path in problems).
// A file with any problem that is not a warning yields no File: it is
// good or rejected whole. A good file's warnings are in File.Warnings
// (and returned).
func ParseFile(path string, data []byte, o Options) (*File, Problems) {
	f := &File{Path: path}
	var problems Problems
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, syntaxProblem(path, err))
			break
		}
		if len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document
		}
		problems = append(problems, f.parseDoc(newDoc(path, root), o)...)
	}
	if len(problems.Errors()) > 0 {
		return nil, problems
	}
	f.Warnings = problems
	return f, problems
}

// lineRE finds the line number in a yaml.v3 syntax error.
var lineRE = regexp.MustCompile(`line (\d+): `)

func syntaxProblem(path string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: path, Msg: "YAML syntax: " + msg}
	if m := lineRE.FindStringSubmatchIndex(msg); m != nil {
		p.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		p.Msg = "YAML syntax: " + msg[:m[0]] + msg[m[1]:]
		// yaml.v3 counts lines from 0 in its parser's errors (those
		// about a construct left open), from 1 in its scanner's.
		if strings.HasPrefix(msg[m[1]:], "did not find expected") {
			p.Line++
		}
	}
	return p
}

// parseDoc reads one document into f.
func (f *File) parseDoc(d *doc, o Options) Problems {
	if d.root.Kind != yaml.MappingNode {
		d.add("", "a document must be a mapping with apiVersion and kind")
		return d.problems
	}
	apiVersion, kind := scalarField(d.root, "apiVersion"), scalarField(d.root, "kind")
	if kind == "" {
		d.add("kind", "required")
	}
	if apiVersion == "" {
		d.add("apiVersion", "required")
	}
	if len(d.problems) > 0 {
		return d.problems
	}
	switch {
	case apiVersion == ServiceAPIVersion && kind == ServiceKind:
		if s := parseService(d); s != nil {
			f.Services = append(f.Services, s)
		}
	case apiVersion == HealthCheckAPIVersion && kind == HealthCheckKind:
		if h := parseHealthCheck(d); h != nil {
			f.HealthChecks = append(f.HealthChecks, h)
		}
	case f.parseTraffic(d, apiVersion, kind, o):
	default:
		f.Skipped = append(f.Skipped, Skipped{File: d.file, Line: d.root.Line, APIVersion: apiVersion, Kind: kind})
	}
	return d.problems
}

// scalarField returns the value of mapping m's scalar field key, or "".
func scalarField(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
			return m.Content[i+1].Value
		}
	}
	return ""
}
