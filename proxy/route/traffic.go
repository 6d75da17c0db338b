package route

import destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"

// Traffic is the policy for the endpoints behind one backend: the
// balancer, outlier detection and connection pool limits.
type Traffic struct {
	// Balancer; BALANCER_UNSPECIFIED means the proxy's default.
	Balancer destinationv1.Balancer
	// OutlierDetection, nil when none applies.
	OutlierDetection *destinationv1.OutlierDetection
	// ConnectionPool, nil when none applies.
	ConnectionPool *destinationv1.ConnectionPool
}

// Traffic returns the policy for requests to the subset (or "" for the
// whole service) on the service port: the service's policy, overridden by
// the port's, overridden by the subset's (Istio's DestinationRule
// precedence). Unset fields inherit.
func (t *Table) Traffic(port uint16, subset string) Traffic {
	if t == nil || t.policy == nil {
		return Traffic{}
	}
	p := t.policy
	tr := Traffic{Balancer: p.GetBalancer(), OutlierDetection: p.GetOutlierDetection(), ConnectionPool: p.GetConnectionPool()}
	for _, pp := range p.GetPortPolicies() {
		if pp.GetPort() == uint32(port) {
			tr.override(pp.GetBalancer(), pp.GetOutlierDetection(), pp.GetConnectionPool())
			break
		}
	}
	if subset != "" {
		for _, s := range p.GetSubsets() {
			if s.GetName() == subset {
				tr.override(s.GetBalancer(), s.GetOutlierDetection(), s.GetConnectionPool())
				break
			}
		}
	}
	return tr
}

func (tr *Traffic) override(b destinationv1.Balancer, od *destinationv1.OutlierDetection, cp *destinationv1.ConnectionPool) {
	if b != destinationv1.Balancer_BALANCER_UNSPECIFIED {
		tr.Balancer = b
	}
	if od != nil {
		tr.OutlierDetection = od
	}
	if cp != nil {
		tr.ConnectionPool = cp
	}
}
