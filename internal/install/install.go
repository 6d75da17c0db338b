package install

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/inject"
	"github.com/meshlite/meshlite/internal/logging"
	"github.com/meshlite/meshlite/internal/spiffe"
	"github.com/meshlite/meshlite/internal/version"
)

// Names of what install creates, besides inject's.
const (
	// IssuerSecretName holds anchor.crt, issuer.crt and issuer.key, the
	// files meshlite-identity reads from --dir.
	IssuerSecretName = "meshlite-identity-issuer"
	// IdentityServiceAccount is the identity pod's ServiceAccount. It is
	// not "identity": that name in the namespace is the identity service's
	// own SPIFFE ID, which no workload, its proxy included, may ask for.
	IdentityServiceAccount = "meshlite-identity"
	// DestinationServiceAccount is the destination pod's ServiceAccount;
	// the service asks for its SPIFFE ID .../sa/destination with its token.
	DestinationServiceAccount = inject.DestinationServerAccount
	// IdentityAdminPort and DestinationAdminPort serve /live, /ready and
	// /metrics.
	IdentityAdminPort    = 9990
	DestinationAdminPort = 9996
	// ControlPlaneUID is the uid the two services run as (not the proxy's).
	ControlPlaneUID = 2103
)

// Options configure Render. Empty fields take the default in their
// comment; Identity is required.
type Options struct {
	// Namespace of the control plane. Default: meshlite.
	Namespace string
	// Version is the version recorded and the images' tag. Default:
	// version.Get().
	Version string
	// TrustDomain default: cluster.local. It must be the issuer's.
	TrustDomain string
	// ClusterDomain default: cluster.local.
	ClusterDomain string
	// IdentityImage default: ghcr.io/meshlite/identity:<Version>;
	// DestinationImage default: ghcr.io/meshlite/destination:<Version>.
	IdentityImage, DestinationImage string
	// ProxyImage, InitImage, ImagePullPolicy and ClassicSidecar are
	// inject's (inject.Options).
	ProxyImage, InitImage, ImagePullPolicy string
	ClassicSidecar                         bool
	// LogLevel of the two services and their proxies. Default: info.
	LogLevel string
	// Identity is the trust anchors and the issuer (required).
	Identity Identity
	// Now is the time the issuer must be valid at. Default: time.Now().
	Now time.Time
}

// Identity is the PEM material of a trust domain: what `meshctl identity
// create` writes as anchor.crt, issuer.crt and issuer.key.
type Identity struct {
	TrustAnchors, IssuerCert, IssuerKey []byte
}

// GenerateIdentity makes a new trust anchor (10 years) and issuer (1 year)
// for trustDomain. The anchor's key is not kept: a new issuer later needs a
// new anchor too, so for production make them with `meshctl identity
// create` and keep anchor.key offline.
func GenerateIdentity(trustDomain string, now time.Time) (Identity, error) {
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		return Identity{}, fmt.Errorf("install: trust domain: %w", err)
	}
	anchor, anchorKey, err := ca.NewAnchor(td, ca.DefaultAnchorLifetime, now)
	if err != nil {
		return Identity{}, fmt.Errorf("install: %w", err)
	}
	issuer, issuerKey, err := ca.NewIssuer(td, anchor, anchorKey, ca.DefaultIssuerLifetime, now)
	if err != nil {
		return Identity{}, fmt.Errorf("install: %w", err)
	}
	keyPEM, err := spiffe.EncodePrivateKey(issuerKey)
	if err != nil {
		return Identity{}, fmt.Errorf("install: %w", err)
	}
	return Identity{
		TrustAnchors: spiffe.EncodeCertificates(anchor),
		IssuerCert:   spiffe.EncodeCertificates(issuer),
		IssuerKey:    keyPEM,
	}, nil
}

func (o Options) withDefaults() Options {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.Namespace, inject.DefaultControlPlaneNamespace)
	def(&o.Version, version.Get())
	def(&o.TrustDomain, inject.DefaultDomain)
	def(&o.ClusterDomain, inject.DefaultDomain)
	def(&o.IdentityImage, inject.DefaultImageRegistry+"/identity:"+o.Version)
	def(&o.DestinationImage, inject.DefaultImageRegistry+"/destination:"+o.Version)
	def(&o.ImagePullPolicy, "IfNotPresent")
	def(&o.LogLevel, inject.DefaultLogLevel)
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return o
}

// Validate checks o, the identity material included: the issuer must be a
// CA of the trust domain, valid at Now, chain to the anchors and match its
// key — what meshlite-identity checks at start.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	td, err := spiffeid.TrustDomainFromString(o.TrustDomain)
	if err != nil {
		errs = append(errs, fmt.Errorf("trust domain: %w", err))
	}
	if _, err := logging.Parse(o.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("namespace %q: %s", o.Namespace, strings.Join(msgs, "; ")))
	}
	id := o.Identity
	if len(id.TrustAnchors) == 0 || len(id.IssuerCert) == 0 || len(id.IssuerKey) == 0 {
		errs = append(errs, errors.New("identity: the trust anchors, the issuer certificate and its key are all required"))
	} else if err == nil {
		if _, err := ca.ParseAuthority(td, id.TrustAnchors, id.IssuerCert, id.IssuerKey, o.Now); err != nil {
			errs = append(errs, fmt.Errorf("identity: %w", err))
		}
	}
	if err := o.injectOptions().Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	return nil
}

// injectOptions are the options the control plane's proxies are injected
// with.
func (o Options) injectOptions() inject.Options {
	return inject.Options{
		Version: o.Version, ProxyImage: o.ProxyImage, InitImage: o.InitImage,
		ImagePullPolicy: o.ImagePullPolicy, ClassicSidecar: o.ClassicSidecar,
		ControlPlaneNamespace: o.Namespace, ClusterDomain: o.ClusterDomain, TrustDomain: o.TrustDomain,
		Proxy: inject.ProxyConfig{LogLevel: o.LogLevel},
	}
}

// Render returns the control plane's manifests, one YAML stream in the
// order to apply them, and the report of injecting the two Deployments.
func Render(o Options) ([]byte, []inject.Result, error) {
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	o = o.withDefaults()
	var out bytes.Buffer
	fmt.Fprintf(&out, "# meshlite %s control plane, from meshctl install.\n", o.Version)
	fmt.Fprintf(&out, "# Apply with: kubectl apply -f - (it holds the issuer's private key: keep it secret)\n")
	var report []inject.Result
	for _, part := range o.parts() {
		b, err := encodeDocs(part.docs)
		if err != nil {
			return nil, nil, fmt.Errorf("install: %w", err)
		}
		if part.inject != nil {
			var results []inject.Result
			b, results, err = inject.Transform(b, *part.inject)
			if err != nil {
				return nil, nil, fmt.Errorf("install: %w", err)
			}
			report = append(report, results...)
		}
		out.Write(b)
	}
	return out.Bytes(), report, nil
}
