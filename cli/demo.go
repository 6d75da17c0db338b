package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshlite/meshlite/internal/demo"
)

type demoOptions struct {
	binDir   string
	duration time.Duration
	interval time.Duration
	rate     float64
	plain    bool
}

func (o *demoOptions) validate() error {
	if o.duration < 0 {
		return errors.New("--duration must not be negative")
	}
	if o.interval <= 0 {
		return errors.New("--interval must be positive")
	}
	if o.rate <= 0 {
		return errors.New("--rate must be positive")
	}
	return nil
}

func newDemoCmd(s Streams) *cobra.Command {
	o := &demoOptions{interval: 3 * time.Second, rate: 20}
	if exe, err := os.Executable(); err == nil {
		o.binDir = filepath.Dir(exe)
	}
	if v := os.Getenv("DEMO_SECONDS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			o.duration = time.Duration(n) * time.Second
		}
	}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole mesh on this machine in network-namespace pods (root)",
		Long: `demo runs meshlite on one machine: the control plane (identity with a fresh
trust anchor and issuer, destination with its embedded registry), and six
workloads, each a network-namespace pod with meshlite-init, meshlite-proxy
and a small app: web (HTTP/1.1), user-service v1 (two replicas) and v2
(gRPC) routed by the seed's VirtualService and DestinationRule, a cache that
speaks first on an undeclared port, and a load generator.

It prints the identities issued, meshctl check, then meshctl top live on a
terminal (meshctl stat every --interval otherwise), and meshctl edges at the
end. It runs until Ctrl-C or --duration (env DEMO_SECONDS), then removes
everything it created; a later run also cleans what a crashed run left.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			live := !o.plain && isTerminal(s.Out)
			return demo.Run(cmd.Context(), demo.Options{BinDir: o.binDir, Duration: o.duration, Interval: o.interval,
				Rate: o.rate, Out: s.Out, Show: func(ctx context.Context, d *demo.Demo) error {
					return showDemo(ctx, s, d, o.interval, live)
				}})
		},
	}
	cmd.Flags().StringVar(&o.binDir, "bin-dir", o.binDir, "directory holding the meshlite binaries")
	cmd.Flags().DurationVar(&o.duration, "duration", o.duration, "stop after this long (0: run until interrupted; env DEMO_SECONDS=N also sets it)")
	cmd.Flags().DurationVar(&o.interval, "interval", o.interval, "time between status tables when not on a terminal")
	cmd.Flags().Float64Var(&o.rate, "rate", o.rate, "requests per second the load generator sends to web")
	cmd.Flags().BoolVar(&o.plain, "plain", false, "print meshctl stat tables even on a terminal, instead of meshctl top")
	return cmd
}

// showDemo runs meshctl's own commands against the demo mesh: check, then
// top (terminal) or stat every interval, then edges.
func showDemo(ctx context.Context, s Streams, d *demo.Demo, interval time.Duration, live bool) error {
	mesh := []string{"--identity-dir", d.Mesh.Dir, "--identity-addr", d.Mesh.IdentityAddr().String(),
		"--destination", d.Mesh.DestinationAddr().String()}
	for _, name := range d.Order {
		mesh = append(mesh, "--proxy", d.Members[name].Pod.Addr.String())
	}
	run := func(args ...string) error {
		root := NewRoot(s)
		root.SetArgs(append(args, mesh...))
		return root.ExecuteContext(ctx)
	}
	say := func(format string, a ...any) { fmt.Fprintf(s.Out, "\n"+format+"\n", a...) }
	// Give the first requests a moment to flow.
	if !sleepCtx(ctx, 2*time.Second) {
		return nil
	}
	say("$ meshctl check")
	if err := run("check"); err != nil && ctx.Err() == nil {
		fmt.Fprintln(s.Err, "meshctl check:", err)
	}
	defer func() {
		// Edges last, with what the whole run saw; ctx may be over.
		s2 := s
		root := NewRoot(s2)
		root.SetArgs(append([]string{"edges"}, mesh...))
		say("$ meshctl edges   (every client→server hop, with both SPIFFE IDs)")
		ectx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := root.ExecuteContext(ectx); err != nil {
			fmt.Fprintln(s.Err, "meshctl edges:", err)
		}
	}()
	if live {
		say("$ meshctl top   (q quits; the demo keeps running until Ctrl-C)")
		if err := run("top"); err != nil && ctx.Err() == nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
	for ctx.Err() == nil {
		if end, ok := ctx.Deadline(); ok && time.Until(end) < 3*time.Second {
			break // too little left for a 2 s window: no table cut short
		}
		say("$ meshctl stat   (%s)", time.Now().Format("15:04:05"))
		if err := run("stat", "--window", "2s"); err != nil && ctx.Err() == nil {
			fmt.Fprintln(s.Err, "meshctl stat:", err)
		}
		sleepCtx(ctx, interval)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
