// Package meshenv runs a meshlite mesh in network-namespace pods: a control
// plane pod with meshlite-identity, and workloads each made of a pod, its
// iptables redirection by meshlite-init and a meshlite-proxy with its own
// identity. The demo and the end-to-end tests use it.
//
//	env := netenv.NewForTest(t, netenv.Options{})
//	mesh, err := meshenv.Start(ctx, env, meshenv.Options{BinDir: bin})
//	web, err := mesh.AddWorkload(ctx, meshenv.Workload{Name: "web", Namespace: "default", ServiceAccount: "web"})
package meshenv

import (
	"context"

	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/identity/attest"
	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/spiffe"
)

// ProxyUID is the uid proxies run as; iptables leaves its traffic alone.
const ProxyUID = 2102

// IdentityPort is where meshlite-identity serves Certify in the control pod.
const IdentityPort = 8080

// Options configure a mesh.
type Options struct {
	// BinDir holds meshlite-identity, meshlite-proxy and meshlite-init.
	BinDir string
	// TrustDomain of every identity; default "cluster.local".
	TrustDomain string
	// LeafLifetime of issued certificates; default the service's (24 h).
	LeafLifetime time.Duration
	// Output, when set, receives every process's output as well.
	Output io.Writer
	// Destination runs meshlite-destination (embedded registry) in the
	// control pod too, and points every workload's proxy at it.
	Destination bool
	// LeaseTTL is the registration lease the destination service grants
	// at most and the proxies ask for; default 3s.
	LeaseTTL time.Duration
}

// leaseTTL is Options.LeaseTTL or its default.
func (o Options) leaseTTL() string {
	if o.LeaseTTL > 0 {
		return o.LeaseTTL.String()
	}
	return "3s"
}

// Mesh is a running control plane.
type Mesh struct {
	Env      *netenv.Env
	Options  Options
	TD       spiffeid.TrustDomain
	Dir      string // the trust domain's files (anchor, issuer, join key)
	Control  *netenv.Pod
	Identity *netenv.Proc
	// Destination is the destination service's process, nil unless
	// Options.Destination; ConfigDir holds its YAML files.
	Destination *netenv.Proc
	ConfigDir   string
}

// Start creates the trust domain's files, the control pod and the identity
// service, and waits until it serves.
func Start(ctx context.Context, env *netenv.Env, o Options) (*Mesh, error) {
	if o.TrustDomain == "" {
		o.TrustDomain = "cluster.local"
	}
	td, err := spiffeid.TrustDomainFromString(o.TrustDomain)
	if err != nil {
		return nil, fmt.Errorf("meshenv: %w", err)
	}
	bins := []string{"meshlite-identity", "meshlite-proxy", "meshlite-init"}
	if o.Destination {
		bins = append(bins, "meshlite-destination")
	}
	for _, bin := range bins {
		if _, err := os.Stat(filepath.Join(o.BinDir, bin)); err != nil {
			return nil, fmt.Errorf("meshenv: %s not found in %s (make build): %w", bin, o.BinDir, err)
		}
	}
	dir, err := os.MkdirTemp("", "meshlite-mesh-")
	if err != nil {
		return nil, fmt.Errorf("meshenv: %w", err)
	}
	m := &Mesh{Env: env, Options: o, TD: td, Dir: dir}
	if err := CreateTrustDomain(dir, td); err != nil {
		return nil, err
	}
	if m.Control, err = env.AddPod(ctx, "control", netenv.PodOptions{}); err != nil {
		return nil, fmt.Errorf("meshenv: %w", err)
	}
	if err := m.StartIdentity(ctx); err != nil {
		return nil, err
	}
	if o.Destination {
		m.ConfigDir = filepath.Join(dir, "destination")
		if err := os.Mkdir(m.ConfigDir, 0o755); err != nil {
			return nil, fmt.Errorf("meshenv: %w", err)
		}
		if err := m.StartDestination(ctx); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// CreateTrustDomain writes a fresh trust anchor, issuer and join-token
// key for td into dir, as `meshctl identity create` does, and opens dir
// (0755) so that proxies running as another uid read the anchors and
// their tokens there; the keys stay 0600.
func CreateTrustDomain(dir string, td spiffeid.TrustDomain) error {
	if err := ca.Create(dir, ca.CreateOptions{TrustDomain: td}); err != nil {
		return fmt.Errorf("meshenv: %w", err)
	}
	if err := attest.CreateJoinKey(dir, false); err != nil {
		return fmt.Errorf("meshenv: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("meshenv: %w", err)
	}
	return nil
}

// StartIdentity (re)starts the identity service in the control pod and
// waits until it is ready.
func (m *Mesh) StartIdentity(ctx context.Context) error {
	args := []string{"--dir", m.Dir, "--trust-domain", m.TD.Name(), "--attest", "join",
		"--addr", fmt.Sprintf(":%d", IdentityPort), "--admin-addr", ":9990", "--reload-interval", "1s"}
	if m.Options.LeafLifetime > 0 {
		args = append(args, "--leaf-lifetime", m.Options.LeafLifetime.String())
	}
	proc, err := m.Control.Start(ctx, netenv.ProcSpec{Name: "identity", Path: filepath.Join(m.Options.BinDir, "meshlite-identity"), Args: args, Output: m.Options.Output})
	if err != nil {
		return fmt.Errorf("meshenv: identity: %w", err)
	}
	m.Identity = proc
	if err := waitHTTP(ctx, "http://"+netip.AddrPortFrom(m.Control.Addr, 9990).String()+"/ready", proc); err != nil {
		return fmt.Errorf("meshenv: identity service not ready: %w\n%s", err, proc.Output())
	}
	return nil
}

// DestinationPort is where meshlite-destination serves in the control pod.
const DestinationPort = 8086

// DestinationAddr is the destination service's address.
func (m *Mesh) DestinationAddr() netip.AddrPort {
	return netip.AddrPortFrom(m.Control.Addr, DestinationPort)
}

// StartDestination (re)starts the destination service in the control pod,
// with its own identity, and waits until it is ready. Registrations
// persist in the mesh's directory across restarts.
func (m *Mesh) StartDestination(ctx context.Context) error {
	id, err := m.WorkloadID("meshlite", "destination")
	if err != nil {
		return fmt.Errorf("meshenv: %w", err)
	}
	token, err := m.writeToken("destination", id)
	if err != nil {
		return err
	}
	args := []string{"--config-dir", m.ConfigDir, "--poll-interval", "200ms",
		"--state-file", filepath.Join(m.Dir, "destination.db"), "--trust-domain", m.TD.Name(),
		"--addr", fmt.Sprintf(":%d", DestinationPort), "--admin-addr", ":9996", "--lease-ttl", m.Options.leaseTTL(),
		"--identity-addr", m.IdentityAddr().String(), "--identity-trust-anchors", m.AnchorsFile(),
		"--identity-trust-domain", m.TD.Name(), "--identity-token-file", token}
	proc, err := m.Control.Start(ctx, netenv.ProcSpec{Name: "destination", Path: filepath.Join(m.Options.BinDir, "meshlite-destination"), Args: args, Output: m.Options.Output})
	if err != nil {
		return fmt.Errorf("meshenv: destination: %w", err)
	}
	m.Destination = proc
	if err := waitHTTP(ctx, "http://"+netip.AddrPortFrom(m.Control.Addr, 9996).String()+"/ready", proc); err != nil {
		return fmt.Errorf("meshenv: destination service not ready: %w\n%s", err, proc.Output())
	}
	return nil
}

// StopDestination stops the destination service.
func (m *Mesh) StopDestination() error { return m.Destination.Stop(5 * time.Second) }

// WriteConfig writes a file of the destination service's configuration
// (Services, HealthChecks, routing) atomically; the service follows it.
func (m *Mesh) WriteConfig(name, yaml string) error {
	tmp := filepath.Join(m.ConfigDir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		return fmt.Errorf("meshenv: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(m.ConfigDir, name)); err != nil {
		return fmt.Errorf("meshenv: %w", err)
	}
	return nil
}

// StopIdentity stops the identity service.
func (m *Mesh) StopIdentity() error { return m.Identity.Stop(5 * time.Second) }

// Close removes the trust domain's files. The pods and processes go with
// the Env.
func (m *Mesh) Close() error { return os.RemoveAll(m.Dir) }

// AnchorsFile is the PEM file of the trust anchors proxies verify with.
func (m *Mesh) AnchorsFile() string { return filepath.Join(m.Dir, ca.AnchorCertFile) }

// IdentityAddr is the identity service's address.
func (m *Mesh) IdentityAddr() netip.AddrPort { return netip.AddrPortFrom(m.Control.Addr, IdentityPort) }

// WorkloadID is the SPIFFE ID of a namespace's service account.
func (m *Mesh) WorkloadID(ns, sa string) (spiffeid.ID, error) { return spiffe.WorkloadID(m.TD, ns, sa) }

// Workload describes one meshed workload.
type Workload struct {
	Name           string
	Namespace      string // default "default"
	ServiceAccount string // default Name
	// ProxyArgs are extra meshlite-proxy flags (e.g. --meshed-endpoints).
	ProxyArgs []string
	// InitArgs are extra meshlite-init flags.
	InitArgs []string
	// Ports, when set, registers the workload with the destination
	// service as serving these ports ("8080" or "http=8080"), with Labels.
	Ports  []string
	Labels map[string]string
	// Weight of the registered endpoints (0: 1).
	Weight uint
}

// Member is a running workload: its pod, proxy and identity.
type Member struct {
	Pod   *netenv.Pod
	Proxy *netenv.Proc
	ID    spiffeid.ID
}

// AdminURL is the proxy's admin base URL, reachable from the host.
func (w *Member) AdminURL() string { return "http://" + netip.AddrPortFrom(w.Pod.Addr, 4191).String() }

// AddWorkload creates the workload's pod, redirects its traffic with
// meshlite-init, mints its join token and starts its proxy, and waits
// until the proxy is ready (it holds a certificate).
func (m *Mesh) AddWorkload(ctx context.Context, w Workload) (*Member, error) {
	if w.Namespace == "" {
		w.Namespace = "default"
	}
	if w.ServiceAccount == "" {
		w.ServiceAccount = w.Name
	}
	id, err := m.WorkloadID(w.Namespace, w.ServiceAccount)
	if err != nil {
		return nil, fmt.Errorf("meshenv: %w", err)
	}
	pod, err := m.Env.AddPod(ctx, w.Name, netenv.PodOptions{})
	if err != nil {
		return nil, fmt.Errorf("meshenv: %w", err)
	}
	initArgs := append([]string{"--proxy-uid", fmt.Sprint(ProxyUID)}, w.InitArgs...)
	if out, err := pod.Command(ctx, 0, filepath.Join(m.Options.BinDir, "meshlite-init"), initArgs...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("meshenv: meshlite-init in %s: %w: %s", w.Name, err, out)
	}
	tokenFile, err := m.writeToken(w.Name, id)
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--identity-addr", m.IdentityAddr().String(),
		"--identity-trust-anchors", m.AnchorsFile(),
		"--identity-trust-domain", m.TD.Name(),
		"--identity-namespace", w.Namespace,
		"--identity-service-account", w.ServiceAccount,
		"--identity-token-file", tokenFile,
	}, w.ProxyArgs...)
	if m.Destination != nil {
		args = append(args, "--destination-addr", m.DestinationAddr().String(), "--workload-lease-ttl", m.Options.leaseTTL())
		if len(w.Ports) > 0 {
			labels := make([]string, 0, len(w.Labels))
			for k, v := range w.Labels {
				labels = append(labels, k+"="+v)
			}
			args = append(args, "--workload-name", w.Name, "--workload-ports", strings.Join(w.Ports, ","),
				"--workload-labels", strings.Join(labels, ","), "--workload-weight", fmt.Sprint(max(w.Weight, 1)))
		}
	}
	proxy, err := pod.Start(ctx, netenv.ProcSpec{Name: w.Name + "-proxy", Path: filepath.Join(m.Options.BinDir, "meshlite-proxy"),
		Args: args, UID: ProxyUID, GID: ProxyUID, Output: m.Options.Output})
	if err != nil {
		return nil, fmt.Errorf("meshenv: proxy in %s: %w", w.Name, err)
	}
	member := &Member{Pod: pod, Proxy: proxy, ID: id}
	if err := waitHTTP(ctx, member.AdminURL()+"/ready", proxy); err != nil {
		return nil, fmt.Errorf("meshenv: proxy in %s not ready: %w\n%s", w.Name, err, proxy.Output())
	}
	return member, nil
}

// writeToken mints a join token for id into a file only the proxy's uid
// can read.
func (m *Mesh) writeToken(name string, id spiffeid.ID) (string, error) {
	return WriteJoinToken(m.Dir, name, id, 24*time.Hour)
}

// WriteJoinToken mints a join token for id, valid for ttl, with the key
// in dir (CreateTrustDomain's), into dir/<name>.token, a file only
// ProxyUID can read. It returns the file's path.
func WriteJoinToken(dir, name string, id spiffeid.ID, ttl time.Duration) (string, error) {
	key, err := attest.LoadJoinKey(filepath.Join(dir, attest.JoinKeyFile))
	if err != nil {
		return "", fmt.Errorf("meshenv: %w", err)
	}
	tok, err := attest.MintJoinToken(key, id, ttl, time.Now())
	if err != nil {
		return "", fmt.Errorf("meshenv: %w", err)
	}
	path := filepath.Join(dir, name+".token")
	if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
		return "", fmt.Errorf("meshenv: %w", err)
	}
	if err := os.Chown(path, ProxyUID, ProxyUID); err != nil {
		return "", fmt.Errorf("meshenv: %w", err)
	}
	return path, nil
}

// waitHTTP polls url until it answers 200, the process exits, or a minute
// passes.
func waitHTTP(ctx context.Context, url string, proc *netenv.Proc) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // drained for reuse
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("%s answered %s", url, resp.Status)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return last
		case <-proc.Exited():
			return fmt.Errorf("process exited (code %d)", proc.ExitCode())
		case <-tick.C:
		}
	}
}

// MeshedFlag renders members as a --meshed-endpoints value.
func MeshedFlag(members ...*Member) string {
	entries := make([]string, 0, 2*len(members))
	for _, w := range members {
		entries = append(entries, w.Pod.Addr.String()+"="+w.ID.String())
		if w.Pod.Addr6.IsValid() {
			entries = append(entries, w.Pod.Addr6.String()+"="+w.ID.String())
		}
	}
	return strings.Join(entries, ",")
}
