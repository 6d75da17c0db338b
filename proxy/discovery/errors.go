package discovery

import "errors"

// ErrClosed is returned by a Client that was closed.
var ErrClosed = errors.New("discovery: client closed")

// errConfig is wrapped by New's configuration errors.
var errConfig = errors.New("discovery: configuration")
