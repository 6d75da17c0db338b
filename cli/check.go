package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/healthcheck"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// Output formats of meshctl check.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputShort = "short"
	outputWide  = "wide"
)

type checkOptions struct {
	mesh     meshOptions
	output   string
	pre      bool
	initBin  string
	initArgs []string
}

func (o *checkOptions) validate() error {
	var errs []error
	if !slices.Contains([]string{outputTable, outputJSON, outputShort}, o.output) {
		errs = append(errs, fmt.Errorf("-o %q: want table, json or short", o.output))
	}
	if !o.pre && o.mesh.identityAddr == "" && o.mesh.destination == "" && len(o.mesh.proxies) == 0 {
		errs = append(errs, errors.New("nothing to check: give --identity-addr, --destination or --proxy (or --pre for this machine)"))
	}
	if err := o.mesh.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newCheckCmd(s Streams) *cobra.Command {
	o := &checkOptions{output: outputTable}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that the control plane and the proxies are healthy",
		Long: `check runs the mesh's health checks and shows each as √ (passed), ‼ (a
warning) or × (failed, with a hint).

  identity     the identity service is reachable and issues certificates;
               the trust anchors and the issuer are valid, chained, and
               not expiring within 7 days (failure) or 60 days (warning)
  destination  the destination service is reachable and answers watches
  data-plane   every proxy the destination service knows (or given with
               --proxy) is ready, holds a valid certificate chained to the
               trust anchors with the expected identity, has its iptables
               rules in place (meshlite-init --verify in its network
               namespace) and runs the control plane's version

With --pre it checks instead that this machine can run meshed workloads:
an iptables backend that works, NET_ADMIN, kernel support for the
redirect rules (tried in a throwaway network namespace), the proxy's
ports free.

Exit code 1 when a check failed; 0 when all passed, warnings included.`,
		Example: `  meshctl check --pre
  meshctl check --identity-addr 10.201.0.2:8080 --identity-dir ./identity --destination 10.201.0.2:8086
  meshctl check --proxy 10.201.0.3:4191 --trust-anchors ./identity/anchor.crt -o json`,
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
	f.StringVarP(&o.output, "output", "o", o.output, "output format: table, json or short (only warnings and failures)")
	f.BoolVar(&o.pre, "pre", false, "run the pre-flight checks of this machine only")
	f.StringVar(&o.initBin, "init-bin", "", "meshlite-init binary for the rules check (default: next to meshctl, else on PATH)")
	f.StringArrayVar(&o.initArgs, "init-arg", nil, "a flag for meshlite-init --verify, as the workloads' init got it (repeatable)")
	return cmd
}

func (o *checkOptions) run(ctx context.Context, s Streams) error {
	var cats []healthcheck.Category
	if o.pre {
		cats = []healthcheck.Category{healthcheck.PreFlight(healthcheck.PreFlightEnv{})}
	} else {
		m, err := openMesh(ctx, &o.mesh)
		if err != nil {
			return err
		}
		defer m.Close()
		cats = o.categories(m)
	}
	// Tables are written as the results come; JSON at the end.
	var stream *healthcheck.Stream
	if o.output != outputJSON {
		stream = healthcheck.NewStream(s.Out, o.output == outputShort)
	}
	results := healthcheck.Run(ctx, cats, healthcheck.Options{Timeout: 6 * o.mesh.timeout}, func(r healthcheck.Result) {
		if stream != nil {
			stream.Add(r)
		}
	})
	if stream != nil {
		stream.Done(results)
	} else if err := healthcheck.JSON(s.Out, results); err != nil {
		return err
	}
	return checkError(results)
}

// renderCheck writes finished results in an output format.
func renderCheck(w io.Writer, output string, results healthcheck.Results) error {
	switch output {
	case outputJSON:
		return healthcheck.JSON(w, results)
	case outputShort:
		healthcheck.Short(w, results)
	default:
		healthcheck.Table(w, results)
	}
	return nil
}

// checkError is the command's error: how many checks failed, if any.
func checkError(results healthcheck.Results) error {
	if n := results.Count(healthcheck.StatusError); n > 0 {
		return fmt.Errorf("%d %s failed", n, pluralize(n, "check", "checks"))
	}
	return nil
}

// categories are the control plane's and the data plane's checks.
func (o *checkOptions) categories(m *mesh) []healthcheck.Category {
	id := healthcheck.IdentityEnv{Addr: o.mesh.identityAddr, Reach: m.reachIdentity, Verify: m.verifyChain, Anchors: m.anchors}
	if o.mesh.identityDir != "" {
		id.Certify = m.certify
		if chain, err := readIssuer(o.mesh.identityDir); err == nil {
			id.Issuer = chain
		}
	}
	dest := healthcheck.DestinationEnv{Addr: o.mesh.destination,
		List: func(ctx context.Context) (int, error) {
			ws, err := m.listWorkloads(ctx)
			return len(ws), err
		},
		Watch: m.watchOnce,
	}
	dp := healthcheck.DataPlaneEnv{Proxies: m.proxies, Ready: m.ready, Certificate: m.certificate, TrustDomain: m.td,
		Anchors: m.anchors, Version: m.version, Rules: o.rules()}
	cats := []healthcheck.Category{}
	if o.mesh.identityAddr != "" || o.mesh.identityDir != "" {
		cats = append(cats, healthcheck.Identity(id))
	}
	if o.mesh.destination != "" {
		cats = append(cats, healthcheck.Destination(dest))
	}
	return append(cats, healthcheck.DataPlane(dp))
}

// rules is the rules check's verifier, or one that says why there is none.
func (o *checkOptions) rules() func(context.Context, healthcheck.Proxy) error {
	if os.Geteuid() != 0 {
		return nil
	}
	bin, err := findInitBin(o.initBin)
	if err != nil {
		return func(context.Context, healthcheck.Proxy) error {
			return healthcheck.Warn(fmt.Errorf("not checked: %w", err))
		}
	}
	return ruleVerifier{bin: bin, args: o.initArgs}.verify
}

func pluralize(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// readIssuer reads the issuer chain of an identity directory.
func readIssuer(dir string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(filepath.Join(dir, ca.IssuerCertFile))
	if err != nil {
		return nil, err
	}
	return spiffe.ParseCertificates(data)
}
