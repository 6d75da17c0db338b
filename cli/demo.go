package cli

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshlite/meshlite/internal/demo"
)

type demoOptions struct {
	binDir   string
	duration time.Duration
	interval time.Duration
}

func (o *demoOptions) validate() error {
	if o.duration < 0 {
		return errors.New("--duration must not be negative")
	}
	if o.interval <= 0 {
		return errors.New("--interval must be positive")
	}
	return nil
}

func newDemoCmd(s Streams) *cobra.Command {
	o := &demoOptions{interval: 2 * time.Second}
	if exe, err := os.Executable(); err == nil {
		o.binDir = filepath.Dir(exe)
	}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run meshlite on this machine in network-namespace pods (root)",
		Long: `demo builds pods out of network namespaces, redirects their traffic through
meshlite-proxy with iptables, and shows requests flowing between them until
interrupted (Ctrl-C) or --duration passes. It removes everything it created
when it ends, and cleans up what a crashed earlier run left.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return demo.Run(cmd.Context(), demo.Options{BinDir: o.binDir, Duration: o.duration, Interval: o.interval, Out: s.Out})
		},
	}
	cmd.Flags().StringVar(&o.binDir, "bin-dir", o.binDir, "directory holding the meshlite binaries")
	cmd.Flags().DurationVar(&o.duration, "duration", 0, "stop after this long (0: run until interrupted; env DEMO_SECONDS also sets it)")
	cmd.Flags().DurationVar(&o.interval, "interval", o.interval, "time between the demo client's calls")
	return cmd
}
