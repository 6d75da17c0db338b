package inject

import "fmt"

// AnnotationError is a meshlite.io annotation (or its default) with a
// value inject cannot use.
type AnnotationError struct {
	Key, Value string
	Where      string // "namespace shop", "the pod template", "" for a default
	Err        error
}

func (e *AnnotationError) Error() string {
	if e.Where == "" {
		return fmt.Sprintf("default for %s %q: %v", e.Key, e.Value, e.Err)
	}
	return fmt.Sprintf("annotation %s: %q on %s: %v", e.Key, e.Value, e.Where, e.Err)
}

func (e *AnnotationError) Unwrap() error { return e.Err }
