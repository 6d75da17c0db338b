package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshlite/meshlite/internal/netenv"
)

// ProxyUID is the uid the proxies run as; iptables exempts it from
// redirection.
const ProxyUID = 2102

// Options configure a demo run.
type Options struct {
	// BinDir holds meshlite-proxy and meshlite-init.
	BinDir string
	// Duration ends the demo after this long; 0 runs until ctx ends.
	Duration time.Duration
	// Interval between the client's calls. Default 2 s.
	Interval time.Duration
	Out      io.Writer
}

// Preflight names, in one sentence, what the demo needs and is missing.
func Preflight() error {
	if os.Geteuid() != 0 {
		return errors.New("the demo needs root: it creates network namespaces and iptables rules (run it as root, e.g. sudo make demo)")
	}
	for _, tool := range []string{"ip", "iptables", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the demo needs %q on PATH (Debian: apt-get install iproute2 iptables curl)", tool)
		}
	}
	return nil
}

// Run brings the demo up, shows traffic until ctx ends or the duration
// passes, and tears everything down.
func Run(ctx context.Context, o Options) (err error) {
	if err := Preflight(); err != nil {
		return err
	}
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	proxyBin := filepath.Join(o.BinDir, "meshlite-proxy")
	initBin := filepath.Join(o.BinDir, "meshlite-init")
	for _, bin := range []string{proxyBin, initBin} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("demo: %s not found (run make build first): %w", bin, err)
		}
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, format+"\n", a...) }

	env, err := netenv.New(ctx, netenv.Options{Prefix: "mldmo"})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer func() {
		say("tearing down: processes, namespaces, links")
		err = errors.Join(err, env.Close())
	}()
	web, err := env.AddPod(ctx, "web", netenv.PodOptions{})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	client, err := env.AddPod(ctx, "client", netenv.PodOptions{})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := env.SetHosts(map[string]netip.Addr{"web": web.Addr}); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for _, pod := range []*netenv.Pod{web, client} {
		if err := redirect(ctx, pod, initBin); err != nil {
			return err
		}
		if _, err := pod.Start(ctx, netenv.ProcSpec{Name: "proxy", Path: proxyBin, UID: ProxyUID, GID: ProxyUID,
			Args: []string{"--access-log=false"}}); err != nil {
			return fmt.Errorf("demo: start proxy in %s: %w", pod.Name, err)
		}
		if err := pod.WaitDial(ctx, "tcp", "127.0.0.1:4191"); err != nil {
			return fmt.Errorf("demo: proxy in %s did not come up: %w", pod.Name, err)
		}
	}
	stopApp, err := serveWeb(web)
	if err != nil {
		return err
	}
	defer stopApp()

	say("meshlite demo: two pods on bridge %s, each with meshlite-proxy (uid %d) and iptables redirection", env.Bridge(), ProxyUID)
	say("  web     %-15s app on :8080 (HTTP/1.1), reachable only through its inbound proxy", web.Addr)
	say("  client  %-15s calls http://web:8080/ through its outbound proxy", client.Addr)
	say("")
	say("try it yourself in another terminal:")
	say("  ip netns exec %s curl -s http://web:8080/hello", client.NetNS)
	say("  curl -s http://%s:4191/metrics | grep request_total", client.Addr)
	say("")

	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		out, cerr := client.Command(ctx, 0, "curl", "-sS", "--max-time", "2", "http://web:8080/hello").CombinedOutput()
		if ctx.Err() != nil {
			return nil
		}
		line := strings.TrimSpace(string(out))
		if cerr != nil {
			line = "FAILED: " + line
		}
		say("%s client → web: %s | outbound requests %s, inbound requests %s", time.Now().Format("15:04:05"), line,
			requestTotal(ctx, client.Addr), requestTotal(ctx, web.Addr))
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// redirect installs the pod's iptables rules with meshlite-init: inbound
// TCP (but the admin port) to 4143, outbound TCP of every uid but the
// proxy's, off loopback, to 4140.
func redirect(ctx context.Context, pod *netenv.Pod, initBin string) error {
	if out, err := pod.Command(ctx, 0, initBin).CombinedOutput(); err != nil {
		return fmt.Errorf("demo: meshlite-init in %s: %w: %s", pod.Name, err, out)
	}
	return nil
}

// serveWeb runs the web app inside pod, on loopback only.
func serveWeb(pod *netenv.Pod) (stop func(), err error) {
	ln, err := pod.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		return nil, fmt.Errorf("demo: web app: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from web (%s %s, Host %s)\n", r.Method, r.URL.Path, r.Host)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return func() { srv.Close() }, nil
}

// requestTotal sums request_total from a proxy's metrics.
func requestTotal(ctx context.Context, addr netip.Addr) string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+netip.AddrPortFrom(addr, 4191).String()+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var total float64
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "request_total{") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				total += v
			}
		}
	}
	return fmt.Sprint(total)
}
