package cli

import (
	"github.com/spf13/cobra"
)

func newIdentityCmd(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "identity",
		Short: "Make trust anchors, issuers and join tokens for meshlite-identity",
		Long: `identity manages the files of a trust domain that meshlite-identity signs
certificates with: "create" makes a trust anchor, an issuer and a join-token
signing key; "token" mints a join token that proves a workload's identity
on a machine without Kubernetes.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newIdentityCreateCmd(s), newIdentityTokenCmd(s))
	return cmd
}
