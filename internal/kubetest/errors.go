package kubetest

import "errors"

// Sentinel errors. Returned errors wrap them, so test with errors.Is.
var (
	// ErrToolsMissing means a control-plane binary is missing from the
	// tools directory or was built at another version than this package
	// pins (KubeVersion, EtcdVersion). `make kube-tools` builds them.
	ErrToolsMissing = errors.New("kubetest: control-plane binaries missing or out of date (run make kube-tools)")
	// ErrStopped is returned by methods of a Cluster after Stop.
	ErrStopped = errors.New("kubetest: cluster stopped")
)
