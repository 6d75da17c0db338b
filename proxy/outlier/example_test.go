package outlier_test

import (
	"context"
	"fmt"
	"net/netip"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/balance"
	"github.com/meshlite/meshlite/proxy/outlier"
)

func Example() {
	cfg, _ := outlier.FromProto(&destinationv1.OutlierDetection{Consecutive_5XxErrors: 2, MaxEjectionPercent: 50})
	bal := outlier.New(balance.NewRoundRobin(balance.Options{}), cfg)
	bal.Update([]balance.Endpoint{
		{Addr: netip.MustParseAddrPort("10.0.0.1:80")},
		{Addr: netip.MustParseAddrPort("10.0.0.2:80")},
	})
	for range 2 {
		bal.Report("10.0.0.2:80", outlier.Result{Status: 503})
	}
	p, _ := bal.Pick(context.Background())
	defer p.Done(balance.Result{})
	fmt.Println(bal.Ejected(), p.Endpoint().Addr)
	// Output: [10.0.0.2:80] 10.0.0.1:80
}
