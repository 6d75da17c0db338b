package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/inject"
	"github.com/meshlite/meshlite/internal/install"
	"github.com/meshlite/meshlite/internal/spiffe"
	"github.com/meshlite/meshlite/internal/version"
)

type installOptions struct {
	opts                                install.Options
	identityDir                         string
	trustAnchors, issuerCert, issuerKey string
	now                                 func() time.Time
}

func (o *installOptions) validate() error {
	var errs []error
	files := []string{o.trustAnchors, o.issuerCert, o.issuerKey}
	given := 0
	for _, f := range files {
		if f != "" {
			given++
		}
	}
	if o.identityDir != "" && given > 0 {
		errs = append(errs, errors.New("--identity-dir and --trust-anchors/--issuer-cert/--issuer-key exclude each other"))
	}
	if given != 0 && given != 3 {
		errs = append(errs, errors.New("--trust-anchors, --issuer-cert and --issuer-key go together"))
	}
	return errors.Join(errs...)
}

func newInstallCmd(s Streams) *cobra.Command {
	o := &installOptions{now: time.Now}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Print the Kubernetes manifests of meshlite's control plane",
		Long: `install writes to standard output the manifests of meshlite's control plane,
to apply with kubectl: the namespace; meshlite-identity (Deployment, Service,
RBAC for the TokenReview API, and its trust anchors and issuer as a Secret
and a ConfigMap); meshlite-destination (Deployment, Service, RBAC to watch
Services, EndpointSlices, Pods and the policy resources). Both run with
their own proxy, injected as meshctl inject would.

The trust anchor and issuer come from --identity-dir (what meshctl identity
create writes) or the three file flags; without them install generates new
ones, and discards the anchor's key: to rotate the issuer later, make them
with meshctl identity create instead and keep anchor.key offline. The
output holds the issuer's private key.`,
		Example: `  meshctl identity create --out ./identity
  meshctl install --identity-dir ./identity | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(s)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.opts.Namespace, "namespace", "n", inject.DefaultControlPlaneNamespace, "namespace of the control plane")
	f.StringVar(&o.opts.Version, "version", version.Get(), "meshlite version: the images' tag")
	f.StringVar(&o.opts.TrustDomain, "trust-domain", inject.DefaultDomain, "trust domain of the mesh (the issuer's)")
	f.StringVar(&o.opts.ClusterDomain, "cluster-domain", inject.DefaultDomain, "the cluster's DNS domain")
	f.StringVar(&o.identityDir, "identity-dir", "", "directory with anchor.crt, issuer.crt and issuer.key (meshctl identity create)")
	f.StringVar(&o.trustAnchors, "trust-anchors", "", "PEM file of the trust anchors")
	f.StringVar(&o.issuerCert, "issuer-cert", "", "PEM file of the issuer certificate")
	f.StringVar(&o.issuerKey, "issuer-key", "", "PEM file of the issuer's PKCS #8 key")
	f.StringVar(&o.opts.IdentityImage, "identity-image", "", "identity image (default ghcr.io/meshlite/identity:<version>)")
	f.StringVar(&o.opts.DestinationImage, "destination-image", "", "destination image (default ghcr.io/meshlite/destination:<version>)")
	f.StringVar(&o.opts.ProxyImage, "proxy-image", "", "proxy image (default ghcr.io/meshlite/proxy:<version>)")
	f.StringVar(&o.opts.InitImage, "init-image", "", "init image (default ghcr.io/meshlite/init:<version>)")
	f.StringVar(&o.opts.ImagePullPolicy, "image-pull-policy", "IfNotPresent", "pull policy of the images")
	f.BoolVar(&o.opts.ClassicSidecar, "classic-sidecar", false, "inject the control plane's proxies as classic sidecars (clusters before Kubernetes 1.29)")
	f.StringVar(&o.opts.LogLevel, "log-level", inject.DefaultLogLevel, "log level of the services and their proxies")
	return cmd
}

func (o *installOptions) run(s Streams) error {
	now := o.now()
	o.opts.Now = now
	switch {
	case o.identityDir != "":
		p := ca.DefaultPaths(o.identityDir)
		o.trustAnchors, o.issuerCert, o.issuerKey = p.Anchors, p.IssuerCert, p.IssuerKey
		fallthrough
	case o.trustAnchors != "":
		var err error
		read := func(path string) []byte {
			b, e := os.ReadFile(path)
			if e != nil && err == nil {
				err = e
			}
			return b
		}
		o.opts.Identity = install.Identity{
			TrustAnchors: read(o.trustAnchors), IssuerCert: read(o.issuerCert), IssuerKey: read(o.issuerKey),
		}
		if err != nil {
			return fmt.Errorf("identity: %w", err)
		}
	default:
		id, err := install.GenerateIdentity(o.opts.TrustDomain, now)
		if err != nil {
			return err
		}
		o.opts.Identity = id
		anchors, _ := spiffe.ParseCertificates(id.TrustAnchors)
		issuer, _ := spiffe.ParseCertificates(id.IssuerCert)
		if len(anchors) > 0 && len(issuer) > 0 {
			fmt.Fprintf(s.Err, "generated a trust anchor (until %s) and an issuer (until %s) for %s; the anchor's key is discarded: use meshctl identity create and --identity-dir to keep it\n",
				anchors[0].NotAfter.UTC().Format(time.DateOnly), issuer[0].NotAfter.UTC().Format(time.DateOnly), o.opts.TrustDomain)
		}
	}
	out, report, err := install.Render(o.opts)
	if err != nil {
		return err
	}
	if _, err := s.Out.Write(out); err != nil {
		return err
	}
	for _, r := range report {
		fmt.Fprintln(s.Err, r)
	}
	anchors := o.trustAnchors
	if anchors == "" {
		anchors = fmt.Sprintf(`<(kubectl -n %s get configmap %s -o jsonpath='{.data.anchor\.crt}')`, o.opts.Namespace, inject.DefaultTrustAnchorsConfigMap)
	}
	fmt.Fprintf(s.Err, "next: meshctl inject --trust-anchors %s FILE | kubectl apply -f -\n", anchors)
	return nil
}
