package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/meshlite/meshlite/internal/stats"
)

type edgesOptions struct {
	mesh   meshOptions
	output string
}

func (o *edgesOptions) validate() error {
	var errs []error
	if !slices.Contains([]string{outputTable, outputWide, outputJSON}, o.output) {
		errs = append(errs, fmt.Errorf("-o %q: want table, wide or json", o.output))
	}
	if err := o.mesh.validateProxies(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newEdgesCmd(s Streams) *cobra.Command {
	o := &edgesOptions{output: outputTable}
	cmd := &cobra.Command{
		Use:   "edges",
		Short: "Show every client→server pair seen, with both identities and whether the hop was mutual TLS",
		Long: `edges reads the proxies' metrics and lists every client→server pair they
saw since they started:

  CLIENT_ID  the client's SPIFFE ID
  SERVER_ID  the server's SPIFFE ID
  MTLS       yes when the hop was mutual TLS between two proxies, no when
             it was plaintext
  REQUESTS   HTTP requests over the hop

On a plaintext hop no certificate names the ends: the proxy that saw it
stands for its own end (its identity, or its address), the server is the
authority the client asked for, and an unknown client is "-". A hop seen
by both proxies counts once. -o wide adds the mutual TLS connections the
server accepted (opaque TCP included) and which ends reported the hop;
-o json everything.`,
		Example: `  meshctl edges --destination 10.201.0.2:8086 --identity-addr 10.201.0.2:8080 --identity-dir ./identity
  meshctl edges --proxy 10.201.0.3:4191,10.201.0.4:4191 -o wide`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), s)
		},
	}
	f := cmd.Flags()
	o.mesh.addFlags(f)
	f.StringVarP(&o.output, "output", "o", o.output, "output format: table, wide or json")
	return cmd
}

func (o *edgesOptions) run(ctx context.Context, s Streams) error {
	m, proxies, err := openProxies(ctx, &o.mesh, s)
	if err != nil {
		return err
	}
	defer m.Close()
	return renderEdges(s.Out, o.output, stats.Edges(m.scrapeAll(ctx, proxies, s.Err)))
}

// renderEdges writes edges in the output format.
func renderEdges(w io.Writer, output string, edges []stats.Edge) error {
	if output == outputJSON {
		return stats.WriteJSON(w, stats.EdgesJSONRows(edges))
	}
	return stats.RenderEdges(w, edges, output == outputWide)
}
