package authz

import "fmt"

// CheckMethod returns an error wrapping ErrInvalidMethod unless method is
// a non-empty token of uppercase letters, digits, "-" and "_", as Istio
// requires before authorization: the proxy answers 400, so "delete" cannot
// slip past a DENY on DELETE to an application that ignores case.
func CheckMethod(method string) error {
	if method == "" {
		return fmt.Errorf("%w: empty", ErrInvalidMethod)
	}
	for i := 0; i < len(method); i++ {
		c := method[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %q", ErrInvalidMethod, clip(method))
		}
	}
	return nil
}
