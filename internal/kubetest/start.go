package kubetest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
)

// startAttempts is how often a process is started on fresh ports when a
// port it was given was taken in the meantime.
const startAttempts = 3

// launchSpec describes how to start one control-plane process and when it
// is ready.
type launchSpec struct {
	name, path string
	ports      int
	args       func(ports []int) []string
	// before runs ahead of each attempt (e.g. to clear a data dir).
	before func() error
	ready  func(ctx context.Context, ports []int) error
}

// launch starts spec's process and waits until it is ready, retrying on
// fresh ports when the log says a port was already in use. It returns the
// ports of the running process, which joins c.procs.
func (c *Cluster) launch(ctx context.Context, spec launchSpec, tee io.Writer) ([]int, error) {
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(spec.ports)
		if err != nil {
			return nil, err
		}
		if spec.before != nil {
			if err := spec.before(); err != nil {
				return nil, err
			}
		}
		p, err := startProcess(c.spawn, spec.name, spec.path, spec.args(ports), c.dir, tee)
		if err != nil {
			return nil, err
		}
		err = waitReady(ctx, p, func(ctx context.Context) error { return spec.ready(ctx, ports) })
		if err == nil {
			c.procs = append(c.procs, p)
			return ports, nil
		}
		stopErr := p.stop(time.Second)
		if attempt < startAttempts && p.addrInUse() && ctx.Err() == nil {
			continue
		}
		return nil, fmt.Errorf("kubetest: start %s: %w\n----- %s log (tail) -----\n%s",
			spec.name, errors.Join(err, stopErr), spec.name, p.tail(16<<10))
	}
}

// waitReady polls ready every 100 ms until it succeeds, the process exits
// or ctx ends.
func waitReady(ctx context.Context, p *process, ready func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if done, err := p.exited(); done {
			return err
		}
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(attemptCtx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last check: %v)", ctx.Err(), last)
		case <-p.done:
		case <-tick.C:
		}
	}
}

// startEtcd starts a single-member etcd on two loopback ports with its data
// in the cluster's directory, and returns its client URL.
func (c *Cluster) startEtcd(ctx context.Context, opts Options) (string, error) {
	dataDir := filepath.Join(c.dir, "etcd")
	spec := launchSpec{
		name:   "etcd",
		path:   c.tools.Etcd,
		ports:  2,
		before: func() error { return os.RemoveAll(dataDir) },
		args: func(ports []int) []string {
			client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
			peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
			return []string{
				"--name=kubetest",
				"--data-dir=" + dataDir,
				"--listen-client-urls=" + client,
				"--advertise-client-urls=" + client,
				"--listen-peer-urls=" + peer,
				"--initial-advertise-peer-urls=" + peer,
				"--initial-cluster=kubetest=" + peer,
				"--initial-cluster-state=new",
				"--unsafe-no-fsync", // throwaway data: durability buys nothing
				"--log-level=warn",
			}
		},
		ready: func(ctx context.Context, ports []int) error {
			body, err := httpGet(ctx, plainHTTP, "http://127.0.0.1:"+strconv.Itoa(ports[0])+"/health")
			if err != nil {
				return err
			}
			if !strings.Contains(body, `"health":"true"`) {
				return fmt.Errorf("etcd health: %s", body)
			}
			return nil
		},
	}
	ports, err := c.launch(ctx, spec, opts.LogOutput)
	if err != nil {
		return "", err
	}
	return "http://127.0.0.1:" + strconv.Itoa(ports[0]), nil
}

// startAPIServer starts kube-apiserver on a loopback port with the flags
// that make it work without nodes (see docs/kube-testing.md), writes the
// admin kubeconfig and waits for /readyz.
func (c *Cluster) startAPIServer(ctx context.Context, opts Options, etcdURL string) error {
	spec := launchSpec{
		name:  "kube-apiserver",
		path:  c.tools.APIServer,
		ports: 1,
		args: func(ports []int) []string {
			args := []string{
				"--etcd-servers=" + etcdURL,
				"--bind-address=127.0.0.1",
				"--advertise-address=127.0.0.1",
				"--secure-port=" + strconv.Itoa(ports[0]),
				"--cert-dir=" + filepath.Join(c.dir, "apiserver-certs"),
				"--tls-cert-file=" + c.pki.servingCert,
				"--tls-private-key-file=" + c.pki.servingKey,
				"--client-ca-file=" + c.pki.caFile,
				"--service-account-issuer=" + Issuer,
				"--service-account-key-file=" + c.pki.saPub,
				"--service-account-signing-key-file=" + c.pki.saKey,
				"--api-audiences=" + strings.Join(opts.audiences(), ","),
				"--authorization-mode=RBAC",
				"--service-cluster-ip-range=" + ServiceCIDR,
				// No kubelets, no node IPs: nothing may try to keep the
				// "kubernetes" Endpoints pointing at this loopback server.
				"--endpoint-reconciler-type=none",
				// Pods need no ServiceAccount object or token volume.
				"--disable-admission-plugins=ServiceAccount",
				"--enable-priority-and-fairness=false",
				"--allow-privileged=true",
				"--profiling=false",
			}
			return append(args, opts.ExtraAPIServerArgs...)
		},
		ready: func(ctx context.Context, ports []int) error {
			if err := c.connect("https://127.0.0.1:" + strconv.Itoa(ports[0])); err != nil {
				return err
			}
			body, err := c.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			if err != nil {
				return fmt.Errorf("readyz: %w: %s", err, body)
			}
			return nil
		},
	}
	_, err := c.launch(ctx, spec, opts.LogOutput)
	return err
}

// connect points the admin client configuration, clientset and kubeconfig
// at url.
func (c *Cluster) connect(url string) error {
	if c.url == url {
		return nil
	}
	c.url = url
	c.restConfig = c.adminRESTConfig()
	var err error
	if c.client, err = kubernetes.NewForConfig(c.restConfig); err != nil {
		return fmt.Errorf("kubetest: clientset: %w", err)
	}
	c.kubeconfig = filepath.Join(c.dir, "admin.kubeconfig")
	return c.writeKubeconfig(c.kubeconfig)
}

// startControllerManager starts kube-controller-manager with the admin
// kubeconfig and waits for its /healthz.
func (c *Cluster) startControllerManager(ctx context.Context, opts Options) error {
	spec := launchSpec{
		name:  "kube-controller-manager",
		path:  c.tools.ControllerManager,
		ports: 1,
		args: func(ports []int) []string {
			return []string{
				"--kubeconfig=" + c.kubeconfig,
				"--authentication-kubeconfig=" + c.kubeconfig,
				"--authorization-kubeconfig=" + c.kubeconfig,
				// The API server has no front-proxy (requestheader) CA to look up.
				"--authentication-skip-lookup",
				"--bind-address=127.0.0.1",
				"--secure-port=" + strconv.Itoa(ports[0]),
				"--cert-dir=" + filepath.Join(c.dir, "controller-manager-certs"),
				"--controllers=" + strings.Join(opts.controllers(), ","),
				"--leader-elect=false",
				"--use-service-account-credentials=false",
				"--root-ca-file=" + c.pki.caFile,
				"--profiling=false",
			}
		},
		ready: func(ctx context.Context, ports []int) error {
			body, err := httpGet(ctx, selfSignedHTTPS, "https://127.0.0.1:"+strconv.Itoa(ports[0])+"/healthz")
			if err != nil {
				return err
			}
			if strings.TrimSpace(body) != "ok" {
				return fmt.Errorf("healthz: %s", body)
			}
			return nil
		},
	}
	_, err := c.launch(ctx, spec, opts.LogOutput)
	return err
}

var (
	// plainHTTP talks to etcd on loopback, never through a proxy.
	plainHTTP = &http.Client{Transport: &http.Transport{Proxy: nil}}
	// selfSignedHTTPS reads the controller manager's health endpoint,
	// served on loopback with a certificate it generated itself.
	selfSignedHTTPS = &http.Client{Transport: &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe of our own child
	}}
)

// httpGet returns the body of a 200 response.
func httpGet(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body), nil
}
