package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshlite/meshlite/internal/inject"
	"github.com/meshlite/meshlite/internal/version"
)

type injectOptions struct {
	opts                  inject.Options
	trustAnchorsFile      string
	namespaceAnnotations  []string // NAMESPACE:KEY=VALUE
	parsedNamespaceAnnots map[string]map[string]string
}

func (o *injectOptions) validate() error {
	var errs []error
	o.parsedNamespaceAnnots = map[string]map[string]string{}
	for _, a := range o.namespaceAnnotations {
		ns, kv, ok1 := strings.Cut(a, ":")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok1 || !ok2 || ns == "" || k == "" {
			errs = append(errs, fmt.Errorf("--namespace-annotation %q: want NAMESPACE:KEY=VALUE", a))
			continue
		}
		if o.parsedNamespaceAnnots[ns] == nil {
			o.parsedNamespaceAnnots[ns] = map[string]string{}
		}
		o.parsedNamespaceAnnots[ns][k] = v
	}
	if o.trustAnchorsFile != "" {
		pem, err := os.ReadFile(o.trustAnchorsFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("--trust-anchors: %w", err))
		}
		o.opts.TrustAnchorsPEM = pem
	}
	opts := o.opts
	opts.Namespaces = o.parsedNamespaceAnnots
	if err := opts.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func newInjectCmd(s Streams) *cobra.Command {
	o := &injectOptions{}
	cmd := &cobra.Command{
		Use:   "inject FILE|DIR|- ...",
		Short: "Add the meshlite proxy to Kubernetes workloads",
		Long: `inject reads Kubernetes manifests — files, directories (recursively: *.yaml,
*.yml, *.json) or - for standard input — and writes them to standard output
with the meshlite proxy added to every Pod, Deployment, ReplicaSet,
StatefulSet, DaemonSet, Job, CronJob and ReplicationController, Lists
included. Everything else passes through unchanged, byte for byte.

Each pod template gets the meshlite-init init container (iptables), the
meshlite-proxy sidecar (a native sidecar: an init container with
restartPolicy Always; --classic-sidecar for clusters before Kubernetes
1.29), a projected volume with its ServiceAccount token and the trust
anchors, and annotations recording what was added (meshctl uninject takes
exactly that away again). Annotations on namespaces, workloads and pod
templates opt out (meshlite.io/inject: disabled) or tune the proxy: see
docs/inject.md.

Standard error gets one line per object: injected, or skipped and why.
Namespace objects in the input, and --namespace-annotation, give the
namespaces' annotations. On any error nothing is written to standard output.`,
		Example: `  meshctl inject deploy.yaml | kubectl apply -f -
  kubectl get deploy -n shop -o yaml | meshctl inject - | kubectl apply -f -
  meshctl inject --trust-anchors identity/anchor.crt k8s/ > k8s-meshed.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(s, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.opts.Version, "version", version.Get(), "meshlite version recorded in meshlite.io/proxy-version and used as the images' tag")
	f.StringVar(&o.opts.ProxyImage, "proxy-image", "", "proxy image (default ghcr.io/meshlite/proxy:<version>)")
	f.StringVar(&o.opts.InitImage, "init-image", "", "init image (default ghcr.io/meshlite/init:<version>)")
	f.StringVar(&o.opts.ImagePullPolicy, "image-pull-policy", "IfNotPresent", "pull policy of both images: Always, IfNotPresent, Never")
	f.BoolVar(&o.opts.ClassicSidecar, "classic-sidecar", false, "put the proxy among the containers, for clusters without native sidecars (before Kubernetes 1.29)")
	f.StringVar(&o.opts.ControlPlaneNamespace, "control-plane-namespace", inject.DefaultControlPlaneNamespace, "namespace of meshlite-identity and meshlite-destination")
	f.StringVar(&o.opts.ClusterDomain, "cluster-domain", inject.DefaultDomain, "the cluster's DNS domain")
	f.StringVar(&o.opts.TrustDomain, "trust-domain", inject.DefaultDomain, "trust domain of the proxies' SPIFFE IDs")
	f.StringVar(&o.opts.IdentityAddr, "identity-addr", "", "address of meshlite-identity (default meshlite-identity.<control-plane-namespace>.svc.<cluster-domain>:8080)")
	f.StringVar(&o.opts.DestinationAddr, "destination-addr", "", "address of meshlite-destination (default meshlite-destination.<control-plane-namespace>.svc.<cluster-domain>:8086)")
	f.StringVar(&o.trustAnchorsFile, "trust-anchors", "", "PEM file of the trust anchors to embed in each pod (default: the ConfigMap of --trust-anchors-configmap in the pod's namespace)")
	f.StringVar(&o.opts.TrustAnchorsConfigMap, "trust-anchors-configmap", inject.DefaultTrustAnchorsConfigMap, "ConfigMap in the pod's namespace whose key anchor.crt holds the trust anchors")
	f.StringVar(&o.opts.Proxy.LogLevel, "proxy-log-level", inject.DefaultLogLevel, "proxy log level (annotation meshlite.io/proxy-log-level)")
	f.StringVar(&o.opts.Proxy.CPURequest, "proxy-cpu-request", inject.DefaultCPURequest, "proxy CPU request (annotation meshlite.io/proxy-cpu-request)")
	f.StringVar(&o.opts.Proxy.CPULimit, "proxy-cpu-limit", inject.DefaultCPULimit, "proxy CPU limit (annotation meshlite.io/proxy-cpu-limit)")
	f.StringVar(&o.opts.Proxy.MemoryRequest, "proxy-memory-request", inject.DefaultMemoryRequest, "proxy memory request (annotation meshlite.io/proxy-memory-request)")
	f.StringVar(&o.opts.Proxy.MemoryLimit, "proxy-memory-limit", inject.DefaultMemoryLimit, "proxy memory limit (annotation meshlite.io/proxy-memory-limit)")
	f.Int64Var(&o.opts.Proxy.UID, "proxy-uid", inject.DefaultProxyUID, "uid of the proxy, whose traffic iptables leaves alone (annotation meshlite.io/proxy-uid)")
	f.StringVar(&o.opts.Proxy.OpaquePorts, "opaque-ports", "", "ports relayed as TCP without protocol detection, replacing the proxy's list (annotation meshlite.io/opaque-ports)")
	f.StringVar(&o.opts.Proxy.SkipInboundPorts, "skip-inbound-ports", "", "ports whose incoming connections bypass the proxy (annotation meshlite.io/skip-inbound-ports)")
	f.StringVar(&o.opts.Proxy.SkipOutboundPorts, "skip-outbound-ports", "", "ports whose outgoing connections bypass the proxy (annotation meshlite.io/skip-outbound-ports)")
	f.StringVarP(&o.opts.DefaultNamespace, "namespace", "n", "default", "namespace of the objects that name none (for namespace annotations)")
	f.StringArrayVar(&o.namespaceAnnotations, "namespace-annotation", nil, "annotation of a namespace, NAMESPACE:KEY=VALUE (repeatable; wins over Namespace objects in the input)")
	return cmd
}

func (o *injectOptions) run(s Streams, args []string) error {
	inputs, err := readInputs(args, s.In)
	if err != nil {
		return err
	}
	opts := o.opts
	opts.Namespaces = map[string]map[string]string{}
	for _, in := range inputs {
		nss, err := inject.Namespaces(in.data)
		if err != nil {
			return fmt.Errorf("%s: %w", in.name, err)
		}
		for ns, a := range nss {
			if opts.Namespaces[ns] == nil {
				opts.Namespaces[ns] = map[string]string{}
			}
			for k, v := range a {
				opts.Namespaces[ns][k] = v
			}
		}
	}
	for ns, a := range o.parsedNamespaceAnnots {
		if opts.Namespaces[ns] == nil {
			opts.Namespaces[ns] = map[string]string{}
		}
		for k, v := range a {
			opts.Namespaces[ns][k] = v
		}
	}
	injected := false
	err = transformInputs(s, inputs, func(data []byte) ([]byte, []inject.Result, error) {
		out, results, err := inject.Transform(data, opts)
		for _, r := range results {
			injected = injected || r.Action == inject.Injected
		}
		return out, results, err
	})
	if err != nil {
		return err
	}
	if injected && len(opts.TrustAnchorsPEM) == 0 {
		fmt.Fprintf(s.Err, "note: the injected pods read the trust anchors from ConfigMap %s in their own namespace: copy it from namespace %s, or inject with --trust-anchors\n",
			opts.TrustAnchorsConfigMap, opts.ControlPlaneNamespace)
	}
	return nil
}

// input is one manifest file (or standard input, named "-").
type input struct {
	name string
	data []byte
}

// readInputs reads files, directories (recursively, *.yaml, *.yml, *.json,
// in lexical order) and "-" for stdin.
func readInputs(args []string, stdin io.Reader) ([]input, error) {
	var out []input
	stdinRead := false
	for _, arg := range args {
		if arg == "-" {
			if stdinRead {
				return nil, errors.New("- (standard input) given twice")
			}
			stdinRead = true
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("standard input: %w", err)
			}
			out = append(out, input{"-", b})
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			b, err := os.ReadFile(arg)
			if err != nil {
				return nil, err
			}
			out = append(out, input{arg, b})
			continue
		}
		n := len(out)
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".yaml", ".yml", ".json":
				if d.IsDir() {
					return nil
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				out = append(out, input{p, b})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(out) == n {
			return nil, fmt.Errorf("%s: no *.yaml, *.yml or *.json file in it", arg)
		}
	}
	return out, nil
}

// transformInputs runs f on each input and, only when all succeed, writes
// the outputs to s.Out, one stream (a "---" line between inputs), and the
// report to s.Err, each line prefixed with its file.
func transformInputs(s Streams, inputs []input, f func([]byte) ([]byte, []inject.Result, error)) error {
	var out, report bytes.Buffer
	for i, in := range inputs {
		b, results, err := f(in.data)
		if err != nil {
			if in.name == "-" {
				return err
			}
			return fmt.Errorf("%s: %w", in.name, err)
		}
		if i > 0 && len(b) > 0 {
			if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
				out.WriteByte('\n')
			}
			if !startsWithSeparator(b) {
				out.WriteString("---\n")
			}
		}
		out.Write(b)
		for _, r := range results {
			if in.name != "-" {
				report.WriteString(in.name + ": ")
			}
			report.WriteString(r.String() + "\n")
		}
	}
	if _, err := s.Out.Write(out.Bytes()); err != nil {
		return err
	}
	_, err := s.Err.Write(report.Bytes())
	return err
}

func startsWithSeparator(b []byte) bool {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	rest = bytes.TrimSpace(rest)
	return ok && (len(rest) == 0 || rest[0] == '#')
}
