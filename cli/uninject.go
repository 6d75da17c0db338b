package cli

import (
	"github.com/spf13/cobra"

	"github.com/meshlite/meshlite/internal/inject"
)

type uninjectOptions struct{}

func (o *uninjectOptions) validate() error { return nil }

func newUninjectCmd(s Streams) *cobra.Command {
	o := &uninjectOptions{}
	return &cobra.Command{
		Use:   "uninject FILE|DIR|- ...",
		Short: "Remove what meshctl inject added to Kubernetes workloads",
		Long: `uninject reads Kubernetes manifests like inject does and writes them to
standard output without what inject added: the containers, volumes,
annotations and labels recorded in each pod template's
meshlite.io/inject-status annotation, and nothing else. Documents without
meshlite pass through byte for byte; a pod with meshlite containers but no
such annotation is left as it is.

Standard error gets one line per object: uninjected, unchanged, or skipped
and why. On any error nothing is written to standard output.`,
		Example: `  meshctl uninject deploy-meshed.yaml > deploy.yaml
  kubectl get deploy -n shop -o yaml | meshctl uninject - | kubectl apply -f -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			inputs, err := readInputs(args, s.In)
			if err != nil {
				return err
			}
			return transformInputs(s, inputs, inject.Uninject)
		},
	}
}
