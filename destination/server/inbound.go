package server

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshlite/meshlite/destination/registry"
	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// WatchInbound implements destinationv1.DestinationServer: the inbound
// policy of the workload the request describes (namespace, default
// "default", and labels), in full at once, then again each time it
// changes. Like Watch, it is open to every workload of the trust domain.
func (s *Server) WatchInbound(req *destinationv1.WatchInboundRequest, stream grpc.ServerStreamingServer[destinationv1.InboundPolicy]) error {
	ns := req.GetNamespace()
	if ns == "" {
		ns = registry.DefaultNamespace
	}
	if err := checkWorkloadSelector(ns, req.GetLabels()); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	s.cfg.Log.Debug().Str("namespace", ns).Interface("labels", req.GetLabels()).Msg("inbound watch opened")
	ctx := stream.Context()
	var last *destinationv1.InboundPolicy
	for {
		snap, changed := s.cfg.Source.Snapshot()
		if p := snap.Inbound(ns, req.GetLabels()); last == nil || !proto.Equal(last, p) {
			if err := stream.Send(p); err != nil {
				return err
			}
			last = p
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return status.Error(codes.Unavailable, "destination: shutting down")
		case <-changed:
		}
	}
}

// checkWorkloadSelector checks an inbound watch's namespace and labels.
func checkWorkloadSelector(ns string, labels map[string]string) error {
	if e := validation.IsDNS1123Label(ns); len(e) > 0 {
		return fmt.Errorf("destination: namespace %q: %s", ns, strings.Join(e, "; "))
	}
	if len(labels) > maxLabels {
		return fmt.Errorf("destination: labels: %d, at most %d", len(labels), maxLabels)
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if e := validation.IsQualifiedName(k); len(e) > 0 {
			return fmt.Errorf("destination: label key %q: %s", k, strings.Join(e, "; "))
		}
		if e := validation.IsValidLabelValue(labels[k]); len(e) > 0 {
			return fmt.Errorf("destination: label %s value %q: %s", k, labels[k], strings.Join(e, "; "))
		}
	}
	return nil
}
