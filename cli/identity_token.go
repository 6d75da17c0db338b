package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/spiffe"
)

type identityTokenOptions struct {
	dir         string
	ns, sa      string
	ttl         time.Duration
	trustDomain string
	out         string
}

func (o *identityTokenOptions) validate() error {
	var errs []error
	if o.dir == "" {
		errs = append(errs, errors.New("--dir: required (the directory of `meshctl identity create`)"))
	}
	if o.ns == "" {
		errs = append(errs, errors.New("--ns: required"))
	}
	if o.sa == "" {
		errs = append(errs, errors.New("--sa: required"))
	}
	if o.ttl <= 0 {
		errs = append(errs, fmt.Errorf("--ttl must be positive, got %v", o.ttl))
	}
	if o.trustDomain != "" {
		if _, err := spiffeid.TrustDomainFromString(o.trustDomain); err != nil {
			errs = append(errs, fmt.Errorf("--trust-domain: %w", err))
		}
	}
	return errors.Join(errs...)
}

func newIdentityTokenCmd(s Streams) *cobra.Command {
	o := &identityTokenOptions{ttl: time.Hour}
	cmd := &cobra.Command{
		Use:   "token --dir DIR --ns NAMESPACE --sa SERVICE_ACCOUNT",
		Short: "Mint a join token proving a workload's identity",
		Long: `token mints a join token for spiffe://<trust-domain>/ns/NAMESPACE/sa/SERVICE_ACCOUNT,
signed with DIR/join.key. A proxy sends it to meshlite-identity (from its
--identity-token-file) to get a certificate for exactly that identity; it
may be used again, by anyone who holds it, until it expires: keep it like a
password. The trust domain is read from DIR/anchor.crt unless given.`,
		Example: `  meshctl identity token --dir ./identity --ns default --sa web --ttl 24h --out web.token`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "`directory` written by meshctl identity create (join.key, anchor.crt)")
	f.StringVar(&o.ns, "ns", "", "namespace of the workload")
	f.StringVar(&o.sa, "sa", "", "service account of the workload")
	f.DurationVar(&o.ttl, "ttl", o.ttl, "how long the token is valid")
	f.StringVar(&o.trustDomain, "trust-domain", "", "trust domain (default: the one in <dir>/anchor.crt)")
	f.StringVar(&o.out, "out", "", "write the token to this file (mode 0600) instead of standard output")
	return cmd
}

func (o *identityTokenOptions) run(s Streams) error {
	td, err := o.domain()
	if err != nil {
		return err
	}
	id, err := spiffe.WorkloadID(td, o.ns, o.sa)
	if err != nil {
		return err
	}
	key, err := attest.LoadJoinKey(filepath.Join(o.dir, attest.JoinKeyFile))
	if err != nil {
		return err
	}
	tok, err := attest.MintJoinToken(key, id, o.ttl, time.Now())
	if err != nil {
		return err
	}
	if o.out == "" {
		fmt.Fprintln(s.Out, tok)
		return nil
	}
	if err := spiffe.WriteFileAtomic(o.out, []byte(tok+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(s.Err, "wrote a join token for %s, valid for %v, to %s\n", id, o.ttl, o.out)
	return nil
}

// domain is --trust-domain, or the trust domain named by the anchor.
func (o *identityTokenOptions) domain() (spiffeid.TrustDomain, error) {
	if o.trustDomain != "" {
		return spiffeid.TrustDomainFromString(o.trustDomain)
	}
	p := filepath.Join(o.dir, ca.AnchorCertFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return spiffeid.TrustDomain{}, fmt.Errorf("reading the trust domain (or give --trust-domain): %w", err)
	}
	certs, err := spiffe.ParseCertificates(data)
	if err != nil {
		return spiffeid.TrustDomain{}, fmt.Errorf("%s: %w", p, err)
	}
	if len(certs[0].URIs) != 1 {
		return spiffeid.TrustDomain{}, fmt.Errorf("%s names no trust domain; give --trust-domain", p)
	}
	return spiffeid.TrustDomainFromURI(certs[0].URIs[0])
}
