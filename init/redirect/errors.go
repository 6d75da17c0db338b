package redirect

import (
	"errors"
	"strings"
)

// Errors the front-end maps to exit codes.
var (
	// ErrNoIptables: the iptables binary of the chosen mode is not on PATH.
	ErrNoIptables = errors.New("redirect: no iptables binary")
	// ErrPermission: the process lacks CAP_NET_ADMIN (or is not root).
	ErrPermission = errors.New("redirect: permission denied (needs root or CAP_NET_ADMIN)")
	// ErrLockBusy: another program held the xtables lock past the wait.
	ErrLockBusy = errors.New("redirect: xtables lock busy")
	// ErrMismatch: the rules in place differ from the plan (Verify).
	ErrMismatch = errors.New("redirect: rules in place differ from the plan")
	// ErrConflict: Apply found meshlite rules that differ from the plan
	// and left them alone; remove them first.
	ErrConflict = errors.New("redirect: different meshlite rules already in place")
)

// MismatchError lists how the rules in place differ from the plan. It is
// ErrMismatch for errors.Is.
type MismatchError struct {
	// Differences, one per line: "IPv4: missing: -A ...",
	// "IPv6: unexpected: -A ...", "IPv4: chain MESHLITE_OUTPUT is missing".
	Differences []string
}

func (e *MismatchError) Error() string {
	return ErrMismatch.Error() + ":\n  " + strings.Join(e.Differences, "\n  ")
}

// Is makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// cmdError is an error of an iptables command, classified and trimmed of
// the trailing newline iptables prints.
type cmdError struct {
	err  error
	kind error // ErrLockBusy, ErrPermission or nil
}

func (e *cmdError) Error() string {
	msg := strings.TrimSpace(e.err.Error())
	if e.kind != nil {
		return strings.TrimPrefix(e.kind.Error(), "redirect: ") + ": " + msg
	}
	return msg
}

// Unwrap returns the command's error and its kind.
func (e *cmdError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// classify recognises the failures that have exit codes of their own in
// what iptables printed.
func classify(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var kind error
	switch {
	case strings.Contains(msg, "holding the xtables lock"):
		kind = ErrLockBusy
	case strings.Contains(msg, "Permission denied"), strings.Contains(msg, "Operation not permitted"),
		strings.Contains(msg, "you must be root"):
		kind = ErrPermission
	}
	return &cmdError{err: err, kind: kind}
}
