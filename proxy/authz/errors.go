package authz

import "errors"

// ErrInvalidPath is wrapped by NormalizePath for a path that cannot be
// normalized safely; the proxy answers 400.
var ErrInvalidPath = errors.New("authz: invalid request path")

// ErrInvalidPolicy is wrapped by Compile for an inbound policy it cannot
// honour (an unknown action or mTLS mode).
var ErrInvalidPolicy = errors.New("authz: invalid policy")

// ErrInvalidMethod is wrapped by CheckMethod for a method that is not
// uppercase; the proxy answers 400.
var ErrInvalidMethod = errors.New("authz: invalid request method")
