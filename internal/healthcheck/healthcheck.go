package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Checker is one check.
type Checker struct {
	// Description says what holds when the check passes, e.g. "identity
	// service is reachable".
	Description string
	// Hint says what to do when it fails.
	Hint string
	// Warning makes a failure a warning: reported, but not a failure of
	// the whole run.
	Warning bool
	// Fatal skips the rest of the category when the check fails (later
	// checks depend on it); a warning does not.
	Fatal bool
	// Check returns nil when the check passes.
	Check func(ctx context.Context) error
}

// Category is a named, ordered group of checkers.
type Category struct {
	Name     string
	Checkers []Checker
}

// Status is a check's outcome.
type Status string

// The statuses, as JSON shows them.
const (
	StatusSuccess Status = "success"
	StatusWarning Status = "warning"
	StatusError   Status = "error"
	StatusSkipped Status = "skipped"
)

// Result is the outcome of one checker.
type Result struct {
	Category    string
	Description string
	Status      Status
	// Err says what failed (or why the check was skipped); nil on success.
	Err error
	// Hint is the checker's hint, set when the check did not pass.
	Hint string
}

// Results are a run's results, in order.
type Results []Result

// Success reports whether no check failed (warnings are allowed).
func (rs Results) Success() bool { return rs.Count(StatusError) == 0 }

// Count is how many results have status s.
func (rs Results) Count(s Status) int {
	n := 0
	for _, r := range rs {
		if r.Status == s {
			n++
		}
	}
	return n
}

// Options tune Run.
type Options struct {
	// Timeout bounds each check; 0 means no bound but ctx's.
	Timeout time.Duration
}

// Run runs the categories in order, each checker after the one before,
// and returns every result. observe, when not nil, is called with each
// result as soon as it is known (to show progress). A Fatal checker's
// failure skips the rest of its category. When ctx is done the remaining
// checks are skipped.
func Run(ctx context.Context, cats []Category, o Options, observe func(Result)) Results {
	var out Results
	emit := func(r Result) {
		out = append(out, r)
		if observe != nil {
			observe(r)
		}
	}
	for _, cat := range cats {
		stopped := ""
		for _, c := range cat.Checkers {
			if stopped == "" && ctx.Err() != nil {
				stopped = "interrupted"
			}
			if stopped != "" {
				emit(Result{Category: cat.Name, Description: c.Description, Status: StatusSkipped, Err: errors.New(stopped)})
				continue
			}
			r := runOne(ctx, cat.Name, c, o.Timeout)
			emit(r)
			if c.Fatal && r.Status == StatusError {
				stopped = fmt.Sprintf("skipped: %q did not pass", c.Description)
			}
		}
	}
	return out
}

func runOne(ctx context.Context, category string, c Checker, timeout time.Duration) Result {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	r := Result{Category: category, Description: c.Description}
	err := c.Check(ctx)
	var skip *skipError
	var warn *warnError
	switch {
	case err == nil:
		r.Status = StatusSuccess
		return r
	case errors.As(err, &skip):
		r.Status, r.Err = StatusSkipped, err
		return r
	case errors.As(err, &warn), c.Warning:
		r.Status = StatusWarning
	default:
		r.Status = StatusError
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && timeout > 0 {
		err = fmt.Errorf("%w (after %v)", err, timeout)
	}
	r.Err, r.Hint = err, c.Hint
	return r
}

// warnError is a failure that counts as a warning.
type warnError struct{ err error }

func (e *warnError) Error() string { return e.err.Error() }
func (e *warnError) Unwrap() error { return e.err }

// Warn marks err as a warning whatever the checker's Warning flag: the
// check could not tell (a proxy on another machine, a file not given).
// Warn(nil) is nil.
func Warn(err error) error {
	if err == nil {
		return nil
	}
	return &warnError{err}
}

// skipError says a check does not apply.
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

// Skip reports that a check does not apply, and why; the check is left
// out of the table.
func Skip(reason string) error { return &skipError{reason} }
