package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Fixed facts of every cluster the harness starts.
const (
	// Issuer is the service-account token issuer (the iss claim).
	Issuer = "https://kubernetes.default.svc.cluster.local"
	// IdentityAudience is the audience of the tokens the identity service
	// reviews; the API server always accepts it.
	IdentityAudience = "identity.meshlite.io"
	// ServiceCIDR is the service cluster IP range; ServiceIP is its first
	// address.
	ServiceCIDR = "10.0.0.0/24"
)

// DefaultControllers returns the kube-controller-manager controllers run
// when Options.Controllers is empty: EndpointSlices for Services, the
// Deployment → ReplicaSet → Pod chain, and each namespace's "default"
// ServiceAccount. No scheduler or kubelet runs, so pods stay unscheduled
// until a test sets their status.
func DefaultControllers() []string {
	return []string{
		"endpointslice-controller",
		"deployment-controller",
		"replicaset-controller",
		"serviceaccount-controller",
	}
}

// Options configure a cluster. The zero value starts etcd and
// kube-apiserver only.
type Options struct {
	// ToolsDir holds etcd, kube-apiserver, kube-controller-manager,
	// kubectl and their stamp file. Default: DefaultToolsDir().
	ToolsDir string
	// ControllerManager also starts kube-controller-manager. Default: false.
	ControllerManager bool
	// Controllers are the controllers kube-controller-manager runs.
	// Default: DefaultControllers().
	Controllers []string
	// APIAudiences are further audiences the API server accepts in
	// service-account tokens; Issuer and IdentityAudience always are.
	// Default: none.
	APIAudiences []string
	// ExtraAPIServerArgs are appended to kube-apiserver's flags (a later
	// flag wins). Default: none.
	ExtraAPIServerArgs []string
	// StartTimeout bounds the whole start-up, together with the context.
	// Default: 2 minutes (the API server alone takes 5-15 s on 2 cores).
	StartTimeout time.Duration
	// LogOutput, when set, also receives every process's output, each line
	// prefixed with the process's name. Default: nil; the logs are always
	// kept in files in the cluster's directory (see WriteLogs).
	LogOutput io.Writer
}

func (o Options) startTimeout() time.Duration {
	if o.StartTimeout > 0 {
		return o.StartTimeout
	}
	return 2 * time.Minute
}

func (o Options) controllers() []string {
	if len(o.Controllers) > 0 {
		return o.Controllers
	}
	return DefaultControllers()
}

func (o Options) audiences() []string {
	aud := []string{Issuer, IdentityAudience}
	for _, a := range o.APIAudiences {
		if !slices.Contains(aud, a) {
			aud = append(aud, a)
		}
	}
	return aud
}

// Cluster is a running control plane: etcd, kube-apiserver and optionally
// kube-controller-manager, each a child process on 127.0.0.1, with its
// key material, kubeconfig and logs in a temporary directory. Stop ends it.
type Cluster struct {
	tools      Tools
	dir        string
	url        string
	pki        *pki
	restConfig *rest.Config
	client     *kubernetes.Clientset
	kubeconfig string
	spawn      *spawner
	procs      []*process // in start order; written only while starting

	mu      sync.Mutex
	stopped bool
}

// Launch starts a cluster for code that is not a test (the demo) or that
// manages the cluster's lifetime itself (TestMain). ctx bounds the start-up
// only; the processes run until Stop. An error wraps ErrToolsMissing when
// the binaries are not built; a failed start includes the failing
// process's log.
func Launch(ctx context.Context, opts Options) (*Cluster, error) {
	tools, err := FindTools(opts.ToolsDir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.startTimeout())
	defer cancel()
	removeStaleDirs(os.TempDir())
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("kubetest: %w", err), os.RemoveAll(dir))
	}
	c := &Cluster{tools: tools, dir: dir, spawn: newSpawner()}
	if err := c.start(ctx, opts); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, opts Options) error {
	var err error
	if c.pki, err = newPKI(c.dir, time.Now()); err != nil {
		return err
	}
	etcdURL, err := c.startEtcd(ctx, opts)
	if err != nil {
		return err
	}
	if err := c.startAPIServer(ctx, opts, etcdURL); err != nil {
		return err
	}
	if opts.ControllerManager {
		if err := c.startControllerManager(ctx, opts); err != nil {
			return err
		}
	}
	return nil
}

// Stop kills every process (controller manager, API server, etcd, in that
// order) and removes the cluster's directory. It is safe to call more than
// once and from several goroutines.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	c.mu.Unlock()
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		errs = append(errs, c.procs[i].stop(2*time.Second))
	}
	c.spawn.close()
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("kubetest: remove %s: %w", c.dir, err))
	}
	return errors.Join(errs...)
}

// WriteLogs writes the last max bytes of each process's log to w, one
// section per process. Logs are gone after Stop.
func (c *Cluster) WriteLogs(w io.Writer, max int64) {
	for _, p := range c.procs {
		fmt.Fprintf(w, "===== %s (%s, last %d KiB) =====\n%s\n", p.name, p.logPath, max>>10, p.tail(max))
	}
}

// URL returns the API server's address, https://127.0.0.1:<port>.
func (c *Cluster) URL() string { return c.url }

// CACert returns the PEM of the CA that signed the API server's serving
// certificate and the admin client certificate.
func (c *Cluster) CACert() []byte { return slices.Clone(c.pki.caPEM) }

// RESTConfig returns a new copy of the admin (system:masters) client
// configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// Client returns an admin clientset.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// Kubeconfig returns the path of an admin kubeconfig file (certificates
// embedded), for kubectl and other tools.
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// KubectlPath returns the path of the kubectl binary matching the server.
func (c *Cluster) KubectlPath() string { return c.tools.Kubectl }

// Tools returns the binaries the cluster runs.
func (c *Cluster) Tools() Tools { return c.tools }

// Dir returns the cluster's temporary directory (keys, kubeconfig, logs,
// etcd data), removed by Stop.
func (c *Cluster) Dir() string { return c.dir }

func (c *Cluster) checkRunning() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrStopped
	}
	return nil
}

const (
	dirPrefix = "kubetest-"
	ownerFile = "owner.pid" // the PID of the process that launched the cluster
)

// removeStaleDirs removes the cluster directories under tmp left by test
// processes that died without Stop (a test timeout, a crash; their
// children died with them). Best effort.
func removeStaleDirs(tmp string) {
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}
