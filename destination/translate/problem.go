package translate

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a resource, or about it.
type Problem struct {
	// Source is the resource; set by Compile and Build.
	Source *Source
	// Field is the field's path in the document, e.g.
	// "spec.http[0].route[1].weight"; "" for the resource as a whole.
	Field string
	Msg   string
	// Warning marks a problem that does not reject the resource.
	Warning bool
	// Service and Subset name the subset a reference problem is about:
	// a destination's subset that is not defined.
	Service, Subset string
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.Source != nil {
		b.WriteString(p.Source.Key())
		b.WriteString(": ")
	}
	if p.Warning {
		b.WriteString("warning: ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is a list of problems; as an error it prints one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Errors returns the problems that are not warnings.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// checker gathers the problems of one resource.
type checker struct {
	probs Problems
}

// bad records an error at field.
func (c *checker) bad(field, format string, args ...any) {
	c.probs = append(c.probs, Problem{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// warn records a warning at field.
func (c *checker) warn(field, format string, args ...any) {
	c.probs = append(c.probs, Problem{Field: field, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// unsupported records that field is set but meshlite does not implement
// it.
func (c *checker) unsupported(field, why string) {
	msg := "not supported by meshlite"
	if why != "" {
		msg += ": " + why
	}
	c.bad(field, "%s", msg)
}

// failed reports whether an error (not a warning) was recorded.
func (c *checker) failed() bool { return len(c.probs.Errors()) > 0 }

// field joins a path and a child name.
func field(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

// index is parent[i].
func index(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// key is parent[k], for map entries.
func key(parent, k string) string { return parent + "[" + k + "]" }
