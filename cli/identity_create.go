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

type identityCreateOptions struct {
	trustDomain    string
	out            string
	anchorLifetime time.Duration
	issuerLifetime time.Duration
	force          bool
	issuerOnly     bool
}

func (o *identityCreateOptions) validate() error {
	var errs []error
	if _, err := spiffeid.TrustDomainFromString(o.trustDomain); err != nil {
		errs = append(errs, fmt.Errorf("--trust-domain: %w", err))
	}
	if o.out == "" {
		errs = append(errs, errors.New("--out: required"))
	}
	if o.anchorLifetime <= 0 {
		errs = append(errs, fmt.Errorf("--anchor-lifetime must be positive, got %v", o.anchorLifetime))
	}
	if o.issuerLifetime <= 0 {
		errs = append(errs, fmt.Errorf("--issuer-lifetime must be positive, got %v", o.issuerLifetime))
	}
	return errors.Join(errs...)
}

func newIdentityCreateCmd(s Streams) *cobra.Command {
	o := &identityCreateOptions{
		trustDomain:    "cluster.local",
		anchorLifetime: ca.DefaultAnchorLifetime,
		issuerLifetime: ca.DefaultIssuerLifetime,
	}
	cmd := &cobra.Command{
		Use:   "create --trust-domain DOMAIN --out DIR",
		Short: "Write a new trust anchor, issuer and join-token signing key",
		Long: `create writes a trust domain's files into DIR: a trust anchor (anchor.crt,
anchor.key), an issuer signed by it (issuer.crt, issuer.key) and a
join-token signing key (join.key, join.pub), all ECDSA P-256. Keys are
mode 0600. Give anchor.crt to every proxy, and DIR (without anchor.key,
which is only needed to make a new issuer) to meshlite-identity.

With --issuer-only it keeps DIR's anchor and replaces only the issuer; a
running meshlite-identity picks the new issuer up by itself.`,
		Example: `  meshctl identity create --trust-domain example.org --out ./identity
  meshctl identity create --trust-domain example.org --out ./identity --issuer-only`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.trustDomain, "trust-domain", o.trustDomain, "trust domain of the SPIFFE IDs issued")
	f.StringVar(&o.out, "out", "", "directory to write the files into (created 0700 if missing)")
	f.DurationVar(&o.anchorLifetime, "anchor-lifetime", o.anchorLifetime, "lifetime of the trust anchor")
	f.DurationVar(&o.issuerLifetime, "issuer-lifetime", o.issuerLifetime, "lifetime of the issuer (never past the anchor's)")
	f.BoolVar(&o.force, "force", false, "overwrite existing files")
	f.BoolVar(&o.issuerOnly, "issuer-only", false, "keep the anchor in --out and write only a new issuer")
	return cmd
}

func (o *identityCreateOptions) run(s Streams) error {
	td := spiffeid.RequireTrustDomainFromString(o.trustDomain)
	now := time.Now()
	files := []string{ca.IssuerCertFile, ca.IssuerKeyFile}
	if o.issuerOnly {
		if err := ca.RotateIssuer(o.out, td, o.issuerLifetime, now); err != nil {
			return err
		}
	} else {
		if err := ca.Create(o.out, ca.CreateOptions{
			TrustDomain: td, AnchorLifetime: o.anchorLifetime, IssuerLifetime: o.issuerLifetime, Now: now, Force: o.force,
		}); err != nil {
			return err
		}
		if err := attest.CreateJoinKey(o.out, o.force); err != nil {
			return err
		}
		files = []string{ca.AnchorCertFile, ca.AnchorKeyFile, ca.IssuerCertFile, ca.IssuerKeyFile, attest.JoinKeyFile, attest.JoinPublicKeyFile}
	}
	fmt.Fprintf(s.Out, "trust domain %s\n", td.Name())
	for _, name := range files {
		p := filepath.Join(o.out, name)
		what, err := describeFile(p, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "wrote %-*s %s\n", len(o.out)+12, p, what)
	}
	if !o.issuerOnly {
		fmt.Fprintf(s.Out, "\nnext:\n  meshlite-identity --trust-domain %s --dir %s\n", td.Name(), o.out)
		fmt.Fprintf(s.Out, "  meshctl identity token --dir %s --ns NAMESPACE --sa SERVICE_ACCOUNT --out TOKEN_FILE\n", o.out)
	}
	return nil
}

// describeFile says what a written file is.
func describeFile(path, name string) (string, error) {
	switch name {
	case ca.AnchorKeyFile, ca.IssuerKeyFile:
		return "private key (0600)", nil
	case attest.JoinKeyFile:
		return "join-token signing key (0600)", nil
	case attest.JoinPublicKeyFile:
		return "join-token public key", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	certs, err := spiffe.ParseCertificates(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	kind := "issuer"
	if name == ca.AnchorCertFile {
		kind = "trust anchor"
	}
	return fmt.Sprintf("%s, valid until %s", kind, certs[0].NotAfter.UTC().Format(time.RFC3339)), nil
}
