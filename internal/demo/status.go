package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/meshlite/meshlite/internal/meshenv"
	"github.com/meshlite/meshlite/internal/promtext"
)

// Counts are what one proxy's metrics say about its workload's traffic.
type Counts struct {
	Inbound, InboundOK, InboundTLS float64
	Outbound, OutboundTLS          float64
	TCPInbound                     float64
}

// Scrape reads a member's proxy metrics.
func Scrape(ctx context.Context, m *meshenv.Member) (Counts, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.AdminURL()+"/metrics", nil)
	if err != nil {
		return Counts{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Counts{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Counts{}, err
	}
	f, err := promtext.ParseString(string(body))
	if err != nil {
		return Counts{}, err
	}
	in := map[string]string{"direction": "inbound"}
	out := map[string]string{"direction": "outbound"}
	return Counts{
		Inbound:     f.Sum("response_total", in),
		InboundOK:   f.Sum("response_total", map[string]string{"direction": "inbound", "classification": "success"}),
		InboundTLS:  f.Sum("response_total", map[string]string{"direction": "inbound", "tls": "true"}),
		Outbound:    f.Sum("response_total", out),
		OutboundTLS: f.Sum("response_total", map[string]string{"direction": "outbound", "tls": "true"}),
		TCPInbound:  f.Sum("tcp_open_total", map[string]string{"direction": "inbound", "tls": "true"}),
	}, nil
}

// printStatus prints every workload's traffic each interval until ctx ends.
func (d *Demo) printStatus(ctx context.Context, interval time.Duration) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%s\nWORKLOAD\tIN REQUESTS\tIN SUCCESS\tIN mTLS\tOUT REQUESTS\tOUT mTLS\tTCP IN (mTLS)\n", time.Now().Format("15:04:05"))
		for _, name := range d.Order {
			c, err := Scrape(ctx, d.Members[name])
			if err != nil {
				fmt.Fprintf(tw, "%s\t%v\n", name, err)
				continue
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%.0f\t%s\t%.0f\n", name, c.Inbound, pct(c.InboundOK, c.Inbound),
				pct(c.InboundTLS, c.Inbound), c.Outbound, pct(c.OutboundTLS, c.Outbound), c.TCPInbound)
		}
		tw.Flush()
	}
}

func pct(part, whole float64) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*part/whole)
}
