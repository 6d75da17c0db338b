package topology

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/meshlite/meshlite/internal/netenv"
)

// AppUID is the uid the backend and iperf3 run as in the server pod: not
// root and not the proxy's, like an application.
const AppUID = 2200

// StartApps starts the backend (and, if iperf3 is not empty, an iperf3
// server on ports.Bulk) in the server pod and waits until they listen.
func StartApps(ctx context.Context, pod *netenv.Pod, backend, iperf3 string, ports Ports) ([]*netenv.Proc, error) {
	hp := func(p uint16) string { return ":" + port(p) }
	procs := []*netenv.Proc{}
	be, err := pod.Start(ctx, netenv.ProcSpec{
		Name: "benchbackend", Path: backend, UID: AppUID, GID: AppUID,
		Args: []string{"-http", hp(ports.HTTP) + "," + hp(ports.H2C), "-grpc", hp(ports.GRPC), "-echo", hp(ports.Echo)},
	})
	if err != nil {
		return nil, fmt.Errorf("topology: backend: %w", err)
	}
	procs = append(procs, be)
	lo := func(p uint16) string { return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), p).String() }
	if err := waitListening(ctx, be, lo(ports.HTTP), lo(ports.H2C), lo(ports.GRPC), lo(ports.Echo)); err != nil {
		return procs, err
	}
	if iperf3 == "" {
		return procs, nil
	}
	ip, err := pod.Start(ctx, netenv.ProcSpec{Name: "iperf3-server", Path: iperf3, UID: AppUID, GID: AppUID,
		Args: []string{"-s", "-p", port(ports.Bulk)}})
	if err != nil {
		return procs, fmt.Errorf("topology: iperf3 server: %w", err)
	}
	procs = append(procs, ip)
	return procs, waitListening(ctx, ip, lo(ports.Bulk))
}
