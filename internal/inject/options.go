package inject

import (
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/meshlite/meshlite/internal/version"
)

// Names and numbers inject writes into pods.
const (
	ProxyContainerName = "meshlite-proxy"
	InitContainerName  = "meshlite-init"
	// IdentityVolumeName is the projected volume with the ServiceAccount
	// token and the trust anchors, mounted at IdentityMountPath.
	IdentityVolumeName = "meshlite-identity"
	// XtablesVolumeName is the emptyDir mounted at /run in the init
	// container, for iptables' lock file (the root filesystem is read-only).
	XtablesVolumeName = "meshlite-init-xtables-lock"
	IdentityMountPath = "/var/run/secrets/meshlite.io/identity"
	// TokenFile and TrustAnchorsFile are in IdentityMountPath.
	TokenFile        = "token"
	TrustAnchorsFile = "trust-anchors.pem"
	// TokenAudience is the audience of the projected ServiceAccount token,
	// the one meshlite-identity requires.
	TokenAudience = "identity.meshlite.io"
	// TokenExpirationSeconds is the projected token's lifetime; the kubelet
	// renews it at 80 %.
	TokenExpirationSeconds = 3600

	DefaultProxyUID   = 2102
	ProxyInboundPort  = 4143
	ProxyOutboundPort = 4140
	ProxyAdminPort    = 4191

	DefaultControlPlaneNamespace = "meshlite"
	DefaultDomain                = "cluster.local"
	// DefaultTrustAnchorsConfigMap is the ConfigMap, in the pod's own
	// namespace, whose key TrustAnchorsKey holds the trust anchors, unless
	// Options.TrustAnchorsPEM embeds them.
	DefaultTrustAnchorsConfigMap = "meshlite-trust-anchors"
	TrustAnchorsKey              = "anchor.crt"

	// IdentityPort and DestinationPort are the control plane's gRPC ports.
	IdentityPort    = 8080
	DestinationPort = 8086
	// IdentityServiceName and DestinationServiceName are the control
	// plane's Services (and Deployments).
	IdentityServiceName    = "meshlite-identity"
	DestinationServiceName = "meshlite-destination"
	// IdentityServerAccount and DestinationServerAccount are the service
	// accounts in the SPIFFE IDs the two services present.
	IdentityServerAccount    = "identity"
	DestinationServerAccount = "destination"

	DefaultImageRegistry = "ghcr.io/meshlite"

	// defaultServiceAccount is what a Pod without one runs as.
	defaultServiceAccount = "default"
)

// Options configure Transform. The zero value works: every field has a
// default, given in its comment. Proxy holds the defaults that annotations
// on namespaces, workloads and pod templates override.
type Options struct {
	// Version is recorded in meshlite.io/proxy-version and is the default
	// image tag. Default: version.Get().
	Version string
	// ProxyImage default: ghcr.io/meshlite/proxy:<Version>.
	ProxyImage string
	// InitImage default: ghcr.io/meshlite/init:<Version>.
	InitImage string
	// ImagePullPolicy default: IfNotPresent.
	ImagePullPolicy string
	// ClassicSidecar puts the proxy among the containers instead of as a
	// native sidecar (an init container with restartPolicy Always), for
	// clusters older than Kubernetes 1.29. Default: false (native).
	ClassicSidecar bool

	// ControlPlaneNamespace is where meshlite-identity and
	// meshlite-destination run. Default: meshlite.
	ControlPlaneNamespace string
	// ClusterDomain default: cluster.local.
	ClusterDomain string
	// TrustDomain of the proxies' SPIFFE IDs. Default: cluster.local.
	TrustDomain string
	// IdentityAddr default:
	// meshlite-identity.<ControlPlaneNamespace>.svc.<ClusterDomain>:8080.
	IdentityAddr string
	// DestinationAddr default:
	// meshlite-destination.<ControlPlaneNamespace>.svc.<ClusterDomain>:8086.
	DestinationAddr string
	// TrustAnchorsPEM, when set, is embedded in each pod template (the
	// annotation meshlite.io/trust-anchors, projected into the proxy's
	// volume by the Downward API), so pods need nothing in their namespace.
	// Default: empty, the anchors come from TrustAnchorsConfigMap.
	TrustAnchorsPEM []byte
	// TrustAnchorsConfigMap is the ConfigMap in the pod's namespace with
	// the anchors under key anchor.crt. Default: meshlite-trust-anchors.
	TrustAnchorsConfigMap string

	// Proxy holds the defaults of what annotations tune.
	Proxy ProxyConfig

	// DefaultNamespace is the namespace of documents that name none, for
	// looking up namespace annotations. Default: "default".
	DefaultNamespace string
	// Namespaces are the annotations of namespaces (name → annotations).
	// Namespace documents in the input add to them; an entry here wins
	// over a document's for the same key.
	Namespaces map[string]map[string]string
}

// ProxyConfig are the defaults of the tunable settings. Empty strings and
// zero numbers take the default in the field's comment. Each has an
// annotation (see Annotations) that overrides it per namespace, workload
// or pod template.
type ProxyConfig struct {
	// LogLevel default: info.
	LogLevel string
	// CPURequest default 100m, CPULimit default 1, MemoryRequest default
	// 32Mi, MemoryLimit default 256Mi (Kubernetes quantities).
	CPURequest, CPULimit, MemoryRequest, MemoryLimit string
	// UID the proxy runs as, which meshlite-init exempts from
	// redirection. Default: 2102.
	UID int64
	// OpaquePorts replace the proxy's own default list when set. Default:
	// empty (the proxy's list).
	OpaquePorts string
	// SkipInboundPorts and SkipOutboundPorts are left alone by iptables
	// (ports and ranges). Default: none (the admin port 4191 is always
	// skipped inbound).
	SkipInboundPorts, SkipOutboundPorts string
	// NoAwait makes the startup probe wait only for the proxy process,
	// not for its certificate: the application starts at once. Needed
	// where the proxy's certificate depends on the application itself
	// (meshlite-identity). Default: false (the app waits for /ready).
	NoAwait bool
}

// Default settings.
const (
	DefaultLogLevel      = "info"
	DefaultCPURequest    = "100m"
	DefaultCPULimit      = "1"
	DefaultMemoryRequest = "32Mi"
	DefaultMemoryLimit   = "256Mi"
)

// withDefaults returns o with every empty field set to its default.
func (o Options) withDefaults() Options {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.Version, version.Get())
	def(&o.ProxyImage, DefaultImageRegistry+"/proxy:"+o.Version)
	def(&o.InitImage, DefaultImageRegistry+"/init:"+o.Version)
	def(&o.ImagePullPolicy, "IfNotPresent")
	def(&o.ControlPlaneNamespace, DefaultControlPlaneNamespace)
	def(&o.ClusterDomain, DefaultDomain)
	def(&o.TrustDomain, DefaultDomain)
	def(&o.IdentityAddr, serviceAddr(IdentityServiceName, o.ControlPlaneNamespace, o.ClusterDomain, IdentityPort))
	def(&o.DestinationAddr, serviceAddr(DestinationServiceName, o.ControlPlaneNamespace, o.ClusterDomain, DestinationPort))
	def(&o.TrustAnchorsConfigMap, DefaultTrustAnchorsConfigMap)
	def(&o.DefaultNamespace, "default")
	def(&o.Proxy.LogLevel, DefaultLogLevel)
	def(&o.Proxy.CPURequest, DefaultCPURequest)
	def(&o.Proxy.CPULimit, DefaultCPULimit)
	def(&o.Proxy.MemoryRequest, DefaultMemoryRequest)
	def(&o.Proxy.MemoryLimit, DefaultMemoryLimit)
	if o.Proxy.UID == 0 {
		o.Proxy.UID = DefaultProxyUID
	}
	o.Namespaces = maps.Clone(o.Namespaces)
	return o
}

func serviceAddr(name, ns, domain string, port int) string {
	return name + "." + ns + ".svc." + domain + ":" + strconv.Itoa(port)
}

// Validate checks o: the images, the pull policy, the tunable defaults
// (as their annotations are checked) and the namespace annotations.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	switch o.ImagePullPolicy {
	case "Always", "IfNotPresent", "Never":
	default:
		errs = append(errs, fmt.Errorf("image pull policy %q: want Always, IfNotPresent or Never", o.ImagePullPolicy))
	}
	if len(o.TrustAnchorsPEM) > 0 {
		if err := checkPEM(o.TrustAnchorsPEM); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := o.Proxy.settings().apply(nil, ""); err != nil {
		errs = append(errs, err)
	}
	for ns, annotations := range o.Namespaces {
		if _, err := o.Proxy.settings().apply(annotations, "namespace "+ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	return nil
}
