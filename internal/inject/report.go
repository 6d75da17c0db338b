package inject

import "strings"

// Action is what happened to one object.
type Action string

// Actions.
const (
	Injected   Action = "injected"
	Uninjected Action = "uninjected"
	Skipped    Action = "skipped"
	Unchanged  Action = "unchanged"
)

// Result reports on one object of the input: a document, or an item of a
// List.
type Result struct {
	// Document is the index of the document in the input, from 0.
	Document int
	// Item is the index in the List's items, or -1.
	Item                  int
	Kind, Namespace, Name string
	Action                Action
	// Reason says why an object was skipped or left unchanged.
	Reason string
	// Warnings are things the user should know about an injected object.
	Warnings []string
}

// String renders the result as one line of the report:
//
//	Deployment shop/web: injected
//	Service shop/web: skipped: unsupported kind
//	Pod default/node-agent: skipped: pod uses hostNetwork
func (r Result) String() string {
	var b strings.Builder
	b.WriteString(object{kind: r.Kind, namespace: r.Namespace, name: r.Name}.label())
	b.WriteString(": ")
	b.WriteString(string(r.Action))
	if r.Reason != "" {
		b.WriteString(": ")
		b.WriteString(r.Reason)
	}
	for _, w := range r.Warnings {
		b.WriteString(" (warning: ")
		b.WriteString(w)
		b.WriteString(")")
	}
	return b.String()
}

// Skip reasons.
const (
	ReasonUnsupportedKind = "unsupported kind"
	ReasonNoKind          = "not a Kubernetes object (no kind)"
	ReasonHostNetwork     = "pod uses hostNetwork"
	ReasonAlreadyInjected = "already injected"
	ReasonNoTemplate      = "no pod template with containers"
	ReasonNotInjected     = "not injected"
	ReasonNoStatus        = "meshlite containers without the " + AnnotationStatus + " annotation: not injected by meshctl, left as it is"
)
