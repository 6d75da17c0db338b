package netenv

import "errors"

// Sentinel errors. Returned errors wrap them, so test with errors.Is.
var (
	// ErrClosed is returned by methods of an Env (or its pods) after Close.
	ErrClosed = errors.New("netenv: environment closed")
	// ErrSubnetInUse means a pod subnet overlaps a route on the host or the
	// subnet of another live Env.
	ErrSubnetInUse = errors.New("netenv: subnet already in use")
	// ErrNoFreeSubnet means every default slot of 10.201.0.0/16 (or of
	// fd6d:6c00::/48) is taken.
	ErrNoFreeSubnet = errors.New("netenv: no free pod subnet")
	// ErrSubnetFull means the pod subnet has no address left for another pod.
	ErrSubnetFull = errors.New("netenv: pod subnet full")
	// ErrPodExists is returned by AddPod for a name already used in the Env.
	ErrPodExists = errors.New("netenv: pod already exists")
)
