package discovery

import (
	"context"
	"time"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// WatchInbound follows the inbound policy (peer authentication and
// authorization) of the workload in namespace with labels, calling apply
// with each version, until ctx ends. It reconnects with backoff; while the
// destination service is away, the last policy applied stays in force.
func (c *Client) WatchInbound(ctx context.Context, namespace string, labels map[string]string, apply func(*destinationv1.InboundPolicy)) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for attempt := 1; ; attempt++ {
		got, err := c.streamInbound(ctx, &destinationv1.WatchInboundRequest{Namespace: namespace, Labels: labels}, apply)
		if ctx.Err() != nil {
			return
		}
		if got {
			attempt = 1
		}
		wait := c.backoff(attempt)
		c.cfg.Log.Debug().Err(err).Dur("retry_in", wait).Msg("inbound policy watch interrupted; keeping the last policy")
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

func (c *Client) streamInbound(ctx context.Context, req *destinationv1.WatchInboundRequest, apply func(*destinationv1.InboundPolicy)) (got bool, err error) {
	s, err := c.api.WatchInbound(ctx, req)
	if err != nil {
		return false, err
	}
	for {
		p, err := s.Recv()
		if err != nil {
			return got, err
		}
		got = true
		apply(p)
	}
}
