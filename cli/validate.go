package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshlite/meshlite/destination/config"
	"github.com/meshlite/meshlite/destination/translate"
)

// errInvalid is what validate returns when the configuration has errors
// (or, with --strict, warnings); the root command maps every error to
// exit 1.
var errInvalid = errors.New("validate: the configuration has problems")

type validateOptions struct {
	paths         []string
	clusterDomain string
	rootNamespace string
	strict        bool
}

func (o *validateOptions) validate() error {
	var errs []error
	if len(o.paths) == 0 {
		errs = append(errs, errors.New("give at least one FILE or DIR"))
	}
	if o.clusterDomain == "" {
		errs = append(errs, errors.New("--cluster-domain: required"))
	}
	if e := validation.IsDNS1123Label(o.rootNamespace); len(e) > 0 {
		errs = append(errs, fmt.Errorf("--root-namespace %q: %s", o.rootNamespace, strings.Join(e, "; ")))
	}
	return errors.Join(errs...)
}

func newValidateCmd(s Streams) *cobra.Command {
	o := &validateOptions{clusterDomain: translate.DefaultClusterDomain, rootNamespace: translate.DefaultRootNamespace}
	cmd := &cobra.Command{
		Use:   "validate FILE|DIR...",
		Short: "Check destination service configuration: Services, HealthChecks, Istio and Gateway API resources",
		Long: `validate checks configuration files exactly as meshlite-destination loads
them, with the same code: Kubernetes Services, meshlite HealthChecks, Istio
VirtualServices, DestinationRules, PeerAuthentications and
AuthorizationPolicies, and Gateway API HTTPRoutes attached to Services.
Everything given is checked together, as one configuration directory: a
DIR contributes its *.yaml, *.yml and *.json files (not its
subdirectories), a FILE itself.

Every problem is printed as file:line: field: message, then a summary.
Warnings (a route to a service no file declares, a fault that never
fires) are printed but do not fail, unless --strict; any error exits 1.

See docs/traffic-policy.md for what is accepted.`,
		Example: `  meshctl validate /etc/meshlite/destination
  meshctl validate reviews-vs.yaml reviews-dr.yaml services/`,
		RunE: func(_ *cobra.Command, args []string) error {
			o.paths = args
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.clusterDomain, "cluster-domain", o.clusterDomain, "suffix of fully qualified service names (name.namespace.svc.<cluster-domain>), as meshlite-destination's --cluster-domain")
	f.StringVar(&o.rootNamespace, "root-namespace", o.rootNamespace, "namespace of mesh-wide security policies, as meshlite-destination's --root-namespace")
	f.BoolVar(&o.strict, "strict", false, "fail on warnings too")
	return cmd
}

func (o *validateOptions) run(s Streams) error {
	probs, err := config.Validate(translate.Options{ClusterDomain: o.clusterDomain, RootNamespace: o.rootNamespace}, o.paths...)
	if err != nil {
		return err
	}
	for _, p := range probs {
		fmt.Fprintln(s.Out, p.Error())
	}
	errs := len(probs.Errors())
	warns := len(probs) - errs
	switch {
	case len(probs) == 0:
		fmt.Fprintln(s.Out, "configuration is valid")
	default:
		fmt.Fprintf(s.Out, "%s, %s\n", validateCount(errs, "error"), validateCount(warns, "warning"))
	}
	if errs > 0 || (o.strict && warns > 0) {
		return errInvalid
	}
	return nil
}

func validateCount(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
