package balance

import "errors"

// ErrNoEndpoints is returned by Pick when the balancer has no endpoint to
// choose: none has been given yet, or the last Update gave an empty set.
var ErrNoEndpoints = errors.New("balance: no endpoints")

// ErrUnknownKind is wrapped by New when the balancer name is not one it
// knows.
var ErrUnknownKind = errors.New("balance: unknown balancer")
