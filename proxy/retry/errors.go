package retry

import "errors"

// ErrInvalid is wrapped by Compile for a retry policy it cannot honour.
var ErrInvalid = errors.New("retry: invalid policy")

// ErrConnect marks an error as a failure to establish the connection to
// the endpoint (the request was not sent): wrap dial and TLS-handshake
// errors with it (fmt.Errorf("%w: %w", retry.ErrConnect, err)) where they
// are not *net.OpError with Op "dial".
var ErrConnect = errors.New("retry: connect failed")

// ErrRefused marks an error as a refusal of the request before any
// processing (like HTTP/2 REFUSED_STREAM), for transports that report it
// otherwise.
var ErrRefused = errors.New("retry: request refused before processing")

// ErrReplaced is returned by a reader of a ReplayableBody after a newer
// attempt has started.
var ErrReplaced = errors.New("retry: body reader replaced by a newer attempt")

// ErrNotReplayable is returned by a reader of a ReplayableBody that would
// have to replay bytes no longer kept (the body grew past the bound).
var ErrNotReplayable = errors.New("retry: body too large to replay")
