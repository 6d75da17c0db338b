package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// Streams are the writers (and reader) a command uses.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// NewRoot returns the meshctl command tree.
func NewRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "meshctl",
		Short:         "meshctl controls a meshlite service mesh",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.AddCommand(newDemoCmd(s))
	root.AddCommand(newIdentityCmd(s))
	root.AddCommand(newValidateCmd(s))
	root.AddCommand(newInjectCmd(s))
	root.AddCommand(newUninjectCmd(s))
	root.AddCommand(newInstallCmd(s))
	root.AddCommand(newCheckCmd(s))
	root.AddCommand(newStatCmd(s))
	root.AddCommand(newEdgesCmd(s))
	root.AddCommand(newTopCmd(s))
	root.AddCommand(newLogsCmd(s))
	return root
}
