package server

import (
	"net/netip"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/meshlite/meshlite/destination/registry"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Watch implements destinationv1.DestinationServer.
func (s *Server) Watch(req *destinationv1.WatchRequest, stream grpc.ServerStreamingServer[destinationv1.Update]) error {
	t, err := registry.ParseTarget(req.GetTarget(), req.GetSourceNamespace(), s.cfg.ClusterDomain)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if s.cfg.WatchesOpen != nil {
		s.cfg.WatchesOpen.Inc()
		defer s.cfg.WatchesOpen.Dec()
	}
	s.cfg.Log.Debug().Str("target", req.GetTarget()).Str("source_namespace", req.GetSourceNamespace()).Msg("watch opened")
	ctx := stream.Context()
	var last *view
	for {
		snap, changed := s.cfg.Source.Snapshot()
		v := newView(snap, t)
		if u := diff(last, v); u != nil {
			if err := stream.Send(u); err != nil {
				return err
			}
		}
		last = v
		select {
		case <-ctx.Done():
			s.cfg.Log.Debug().Str("target", req.GetTarget()).Msg("watch closed")
			return nil
		case <-s.closing:
			return status.Error(codes.Unavailable, "destination: shutting down")
		case <-changed:
		}
	}
}

// view is what a watcher of one target knows.
type view struct {
	found   bool
	service string
	eps     map[netip.AddrPort]registry.Endpoint
	order   []netip.AddrPort // sorted
	policy  *destinationv1.Policy
}

func newView(snap *registry.Snapshot, t registry.Target) *view {
	svc, port, ok := snap.Lookup(t)
	if !ok {
		return &view{}
	}
	v := &view{found: true, service: svc.Key(), policy: svc.Policy, eps: make(map[netip.AddrPort]registry.Endpoint, len(port.Endpoints))}
	for _, e := range port.Endpoints {
		if _, dup := v.eps[e.Addr]; !dup {
			v.eps[e.Addr] = e
			v.order = append(v.order, e.Addr)
		}
	}
	return v
}

// diff is the update that takes a watcher from prev (nil before the
// first) to cur, or nil when nothing changed.
func diff(prev, cur *view) *destinationv1.Update {
	if prev == nil || prev.found != cur.found || prev.service != cur.service {
		if !cur.found {
			return &destinationv1.Update{Reset_: true, NotFound: true}
		}
		u := &destinationv1.Update{Reset_: true, Policy: cur.policy, Service: cur.service}
		for _, a := range cur.order {
			u.Add = append(u.Add, endpointProto(cur.eps[a]))
		}
		return u
	}
	if !cur.found {
		return nil
	}
	u := &destinationv1.Update{}
	for _, a := range cur.order {
		if old, ok := prev.eps[a]; !ok || !old.Equal(cur.eps[a]) {
			u.Add = append(u.Add, endpointProto(cur.eps[a]))
		}
	}
	for _, a := range prev.order {
		if _, ok := cur.eps[a]; !ok {
			u.Remove = append(u.Remove, a.String())
		}
	}
	if !proto.Equal(prev.policy, cur.policy) {
		u.Policy = cur.policy
	}
	if len(u.Add) == 0 && len(u.Remove) == 0 && u.Policy == nil {
		return nil
	}
	slices.Sort(u.Remove)
	return u
}

var protocols = map[registry.Protocol]destinationv1.ProtocolHint{
	registry.ProtocolHTTP1:  destinationv1.ProtocolHint_PROTOCOL_HINT_HTTP1,
	registry.ProtocolHTTP2:  destinationv1.ProtocolHint_PROTOCOL_HINT_HTTP2,
	registry.ProtocolOpaque: destinationv1.ProtocolHint_PROTOCOL_HINT_OPAQUE,
}

func endpointProto(e registry.Endpoint) *destinationv1.Endpoint {
	return &destinationv1.Endpoint{
		Address:      e.Addr.String(),
		Weight:       e.Weight,
		Labels:       e.Labels,
		Identity:     e.Identity,
		MeshPort:     uint32(e.MeshPort),
		ProtocolHint: protocols[e.Protocol],
	}
}
