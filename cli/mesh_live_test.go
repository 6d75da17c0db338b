package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/healthcheck"
	"github.com/meshlite/meshlite/internal/meshenv"
	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/promtext"
	"github.com/meshlite/meshlite/internal/stats"
	"github.com/meshlite/meshlite/internal/syncbuf"
	"github.com/meshlite/meshlite/internal/testbin"
)

// webServiceIP is the address the client calls: the Service "web".
const webServiceIP = "10.96.0.30"

// liveMesh is a mesh in network-namespace pods: the control plane
// (identity and destination), a workload "web" serving HTTP behind the
// Service web (registered with the destination service), and a
// "client" (not registered: reached with --proxy).
type liveMesh struct {
	bin         string // directory of the binaries
	mesh        *meshenv.Mesh
	web, client *meshenv.Member
	hc          *http.Client // calls from inside the client pod
	sent        atomic.Int64 // requests sent through the mesh to web
}

// buildBinaries builds the mesh's binaries and meshctl into a directory
// every uid may read.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "meshctl-test-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := testbin.New(dir)
	for _, pkg := range []string{"proxy/cmd/meshlite-proxy", "init/cmd/meshlite-init", "identity/cmd/meshlite-identity",
		"destination/cmd/meshlite-destination", "cli/cmd/meshctl"} {
		b.MustBuild(t, pkg)
	}
	return dir
}

func startLiveMesh(t *testing.T, bin string) *liveMesh {
	t.Helper()
	ctx := t.Context()
	env := netenv.NewForTest(t, netenv.Options{})
	mesh, err := meshenv.Start(ctx, env, meshenv.Options{BinDir: bin, Destination: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mesh.Close() })
	svc := `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: ` + webServiceIP + `
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`
	if err := mesh.WriteConfig("web.yaml", svc); err != nil {
		t.Fatal(err)
	}
	l := &liveMesh{bin: bin, mesh: mesh}
	if l.web, err = mesh.AddWorkload(ctx, meshenv.Workload{Name: "web", Ports: []string{"http=8080"}, Labels: map[string]string{"app": "web"}}); err != nil {
		t.Fatal(err)
	}
	ln, err := l.web.Pod.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "failing on purpose", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if l.client, err = mesh.AddWorkload(ctx, meshenv.Workload{Name: "client"}); err != nil {
		t.Fatal(err)
	}
	l.hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return l.client.Pod.DialContext(ctx, "tcp", addr)
		},
	}}
	// Until the client's proxy has the service's endpoint, calls go to
	// the (unanswering) service address.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := l.get("/warmup"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("web never answered through the mesh: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return l
}

// get calls web's service from the client pod.
func (l *liveMesh) get(path string) (int, error) {
	resp, err := l.hc.Get("http://" + webServiceIP + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	l.sent.Add(1)
	if resp.StatusCode >= 500 && resp.Header.Get("Meshlite-Proxy-Error") != "" {
		return resp.StatusCode, fmt.Errorf("proxy error %d: %s", resp.StatusCode, resp.Header.Get("Meshlite-Proxy-Error"))
	}
	return resp.StatusCode, nil
}

// send makes n calls to path and fails t unless each answers want.
func (l *liveMesh) send(t *testing.T, path string, n, want int) {
	t.Helper()
	for i := range n {
		code, err := l.get(path)
		if err != nil || code != want {
			t.Fatalf("call %d to %s: %d, %v (want %d)", i, path, code, err, want)
		}
	}
}

// flags are what meshctl needs to reach this mesh.
func (l *liveMesh) flags() []string {
	return []string{"--identity-addr", l.mesh.IdentityAddr().String(), "--identity-dir", l.mesh.Dir,
		"--destination", l.mesh.DestinationAddr().String(), "--proxy", netip.AddrPortFrom(l.client.Pod.Addr, 4191).String(),
		"--timeout", "5s"}
}

// run runs meshctl in this process with the mesh's flags after args.
func (l *liveMesh) run(ctx context.Context, out, errw io.Writer, args ...string) error {
	root := NewRoot(Streams{In: strings.NewReader(""), Out: out, Err: errw})
	root.SetArgs(append(args, l.flags()...))
	return root.ExecuteContext(ctx)
}

// check runs meshctl check -o json and returns the report.
func (l *liveMesh) check(t *testing.T) (healthcheck.JSONReport, error) {
	t.Helper()
	var out, errb strings.Builder
	err := l.run(t.Context(), &out, &errb, "check", "-o", "json", "--init-bin", filepath.Join(l.bin, "meshlite-init"))
	var rep healthcheck.JSONReport
	if jerr := json.Unmarshal([]byte(out.String()), &rep); jerr != nil {
		t.Fatalf("check -o json: %v: %v\n%s%s", jerr, err, out.String(), errb.String())
	}
	return rep, err
}

// result finds a check's result in a report.
func result(t *testing.T, rep healthcheck.JSONReport, category, description string) healthcheck.JSONCheck {
	t.Helper()
	for _, c := range rep.Categories {
		if c.Name != category {
			continue
		}
		for _, ch := range c.Checks {
			if ch.Description == description {
				return ch
			}
		}
	}
	t.Fatalf("no check %q in category %q: %+v", description, category, rep)
	return healthcheck.JSONCheck{}
}

func TestLiveMesh(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and iptables")
	}
	start := time.Now()
	bin := buildBinaries(t)
	t.Logf("binaries built in %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	l := startLiveMesh(t, bin)
	t.Logf("mesh up in %v", time.Since(start).Round(time.Millisecond))

	t.Run("check passes on a healthy mesh", func(t *testing.T) {
		rep, err := l.check(t)
		if err != nil || !rep.Success {
			t.Fatalf("check: %v: %+v", err, rep)
		}
		n := 0
		for _, c := range rep.Categories {
			for _, ch := range c.Checks {
				n++
				if ch.Result != healthcheck.StatusSuccess && ch.Result != healthcheck.StatusSkipped {
					t.Errorf("%s / %s: %s: %s", c.Name, ch.Description, ch.Result, ch.Error)
				}
			}
		}
		if len(rep.Categories) != 3 || n < 15 {
			t.Fatalf("%d categories, %d checks: %+v", len(rep.Categories), n, rep)
		}
		var out, errb strings.Builder
		if err := l.run(t.Context(), &out, &errb, "check", "--init-bin", filepath.Join(l.bin, "meshlite-init")); err != nil {
			t.Fatalf("check: %v\n%s%s", err, out.String(), errb.String())
		}
		if !strings.HasSuffix(out.String(), "Status check results are √\n") || strings.Contains(out.String(), "×") {
			t.Fatalf("table:\n%s", out.String())
		}
	})

	t.Run("check --pre passes on this machine", func(t *testing.T) {
		out, _, err := meshctl(t, "check", "--pre")
		if err != nil || !strings.Contains(out, "Status check results are √") {
			t.Fatalf("check --pre: %v\n%s", err, out)
		}
	})

	t.Run("stat and edges count what was sent", func(t *testing.T) {
		before := l.statJSON(t)
		edgesBefore := l.edgesJSON(t)
		const ok, failed = 17, 3
		l.send(t, "/stat", ok, 200)
		l.send(t, "/fail", failed, 500)
		after := l.statJSON(t)
		web, client := find(t, after, "default", "web"), find(t, after, "default", "client")
		webBefore, clientBefore := find(t, before, "default", "web"), find(t, before, "default", "client")
		if d := web.Inbound.Requests - webBefore.Inbound.Requests; d != ok+failed {
			t.Errorf("web inbound requests grew by %v, want %d", d, ok+failed)
		}
		if d := web.Inbound.Successes - webBefore.Inbound.Successes; d != ok {
			t.Errorf("web inbound successes grew by %v, want %d", d, ok)
		}
		if d := web.Inbound.MTLSRequests - webBefore.Inbound.MTLSRequests; d != ok+failed {
			t.Errorf("web inbound mTLS requests grew by %v, want %d", d, ok+failed)
		}
		if d := client.Outbound.Requests - clientBefore.Outbound.Requests; d != ok+failed {
			t.Errorf("client outbound requests grew by %v, want %d", d, ok+failed)
		}
		if web.Proxies != 1 || web.Ready != 1 || web.Inbound.LatencyMsP99 == nil {
			t.Errorf("web: %+v", web)
		}
		edge := func(es []stats.EdgeJSON) stats.EdgeJSON {
			for _, e := range es {
				if e.ClientID == "spiffe://cluster.local/ns/default/sa/client" && e.ServerID == "spiffe://cluster.local/ns/default/sa/web" {
					return e
				}
			}
			return stats.EdgeJSON{}
		}
		eb, ea := edge(edgesBefore), edge(l.edgesJSON(t))
		if !ea.MTLS || ea.Requests-eb.Requests != ok+failed || len(ea.SeenBy) != 2 || ea.Connections < 1 {
			t.Errorf("edge client→web %+v (before %+v), want mTLS and %d more requests", ea, eb, ok+failed)
		}
		var out, errb strings.Builder
		if err := l.run(t.Context(), &out, &errb, "edges"); err != nil {
			t.Fatal(err, errb.String())
		}
		if !strings.Contains(out.String(), "spiffe://cluster.local/ns/default/sa/client  spiffe://cluster.local/ns/default/sa/web  yes") {
			t.Errorf("edges:\n%s", out.String())
		}
		out.Reset()
		if err := l.run(t.Context(), &out, &errb, "stat", "--window", "1s", "-o", "wide"); err != nil {
			t.Fatal(err, errb.String())
		}
		if !strings.Contains(out.String(), "default    web ") || !strings.Contains(out.String(), "1/1") {
			t.Errorf("stat -o wide:\n%s", out.String())
		}
		t.Logf("stat -o wide:\n%s", out.String())
	})

	t.Run("top piped counts every request once", func(t *testing.T) {
		var out, errb syncbuf.Buffer
		done := make(chan error, 1)
		go func() {
			done <- l.run(t.Context(), &out, &errb, "top", "--interval", "1s", "--duration", "4s")
		}()
		waitFor(t, 10*time.Second, func() bool { return strings.Contains(errb.String(), "tapping 2 of 2 proxies") },
			func() string { return errb.String() })
		const n = 23
		l.send(t, "/top-piped", n, 200)
		if err := <-done; err != nil {
			t.Fatalf("top: %v\n%s", err, errb.String())
		}
		blocks := strings.Split(strings.TrimSpace(out.String()), "\n\n")
		last := blocks[len(blocks)-1]
		total := 0
		for _, line := range strings.Split(last, "\n")[1:] {
			f := strings.Fields(line)
			if len(f) != len(stats.TopHeader) {
				t.Fatalf("row %q", line)
			}
			c, _ := strconv.Atoi(f[4])
			total += c
			if f[3] != "/top-piped" || f[0] != "default/client" || f[1] != "default/web" || f[2] != "GET" {
				t.Errorf("row %q", line)
			}
		}
		if total != n || len(blocks) < 3 {
			t.Fatalf("top counted %d requests in %d blocks, want %d:\n%s", total, len(blocks), n, out.String())
		}
	})

	t.Run("top in a terminal", func(t *testing.T) { l.topTmux(t) })

	t.Run("check fails when the issuer is about to expire", func(t *testing.T) {
		if err := ca.RotateIssuer(l.mesh.Dir, l.mesh.TD, 10*24*time.Hour, time.Now().Add(-5*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := ca.RotateIssuer(l.mesh.Dir, l.mesh.TD, 0, time.Now()); err != nil {
				t.Error(err)
			}
		}()
		var rep healthcheck.JSONReport
		var err error
		waitFor(t, 15*time.Second, func() bool {
			rep, err = l.check(t)
			return !rep.Success
		}, func() string { return fmt.Sprintf("%+v", rep) })
		if err == nil {
			t.Fatal("check exited 0")
		}
		r := result(t, rep, healthcheck.CategoryIdentity, "issuer certificate is valid for at least 7 days")
		if r.Result != healthcheck.StatusError || !strings.Contains(r.Error, "expires in 4 days") || !strings.Contains(r.Hint, "--issuer-only") {
			t.Fatalf("%+v", r)
		}
		if r := result(t, rep, healthcheck.CategoryIdentity, "issuer certificate is valid for at least 60 days"); r.Result != healthcheck.StatusSkipped {
			t.Fatalf("%+v", r)
		}
		for _, c := range rep.Categories {
			for _, ch := range c.Checks {
				if ch.Result == healthcheck.StatusError && ch.Description != r.Description {
					t.Errorf("also failed: %s: %s", ch.Description, ch.Error)
				}
			}
		}
	})

	t.Run("check fails when a proxy's rules are removed", func(t *testing.T) {
		initBin := filepath.Join(l.bin, "meshlite-init")
		if out, err := l.web.Pod.Command(t.Context(), 0, initBin, "--remove").CombinedOutput(); err != nil {
			t.Fatalf("meshlite-init --remove: %v: %s", err, out)
		}
		defer func() {
			if out, err := l.web.Pod.Command(context.Background(), 0, initBin, "--proxy-uid", fmt.Sprint(meshenv.ProxyUID)).CombinedOutput(); err != nil {
				t.Errorf("meshlite-init: %v: %s", err, out)
			}
		}()
		rep, err := l.check(t)
		if err == nil || rep.Success {
			t.Fatalf("check passed without web's rules: %+v", rep)
		}
		r := result(t, rep, healthcheck.CategoryDataPlane, "data-plane proxies have their iptables rules in place (meshlite-init --verify)")
		if r.Result != healthcheck.StatusError || !strings.Contains(r.Error, "default/web") || !strings.Contains(r.Error, "missing") ||
			strings.Contains(r.Error, "default/client") {
			t.Fatalf("%+v", r)
		}
	})

	t.Run("check fails when the destination service is stopped", func(t *testing.T) {
		if err := l.mesh.StopDestination(); err != nil {
			t.Fatal(err)
		}
		rep, err := l.check(t)
		if err == nil || rep.Success {
			t.Fatalf("check passed without the destination service: %+v", rep)
		}
		r := result(t, rep, healthcheck.CategoryDestination, "destination service is reachable")
		if r.Result != healthcheck.StatusError || r.Hint == "" {
			t.Fatalf("%+v", r)
		}
		if r := result(t, rep, healthcheck.CategoryDataPlane, "data-plane proxies are known"); r.Result != healthcheck.StatusWarning {
			t.Fatalf("%+v", r)
		}
	})
}

func (l *liveMesh) statJSON(t *testing.T) []stats.StatJSON {
	t.Helper()
	var out, errb strings.Builder
	if err := l.run(t.Context(), &out, &errb, "stat", "--window", "0", "-o", "json"); err != nil {
		t.Fatalf("stat: %v: %s", err, errb.String())
	}
	var rows []stats.StatJSON
	if err := json.Unmarshal([]byte(out.String()), &rows); err != nil {
		t.Fatalf("stat -o json: %v\n%s", err, out.String())
	}
	return rows
}

func (l *liveMesh) edgesJSON(t *testing.T) []stats.EdgeJSON {
	t.Helper()
	var out, errb strings.Builder
	if err := l.run(t.Context(), &out, &errb, "edges", "-o", "json"); err != nil {
		t.Fatalf("edges: %v: %s", err, errb.String())
	}
	var rows []stats.EdgeJSON
	if err := json.Unmarshal([]byte(out.String()), &rows); err != nil {
		t.Fatalf("edges -o json: %v\n%s", err, out.String())
	}
	return rows
}

func find(t *testing.T, rows []stats.StatJSON, ns, name string) stats.StatJSON {
	t.Helper()
	for _, r := range rows {
		if r.Namespace == ns && r.Name == name {
			return r
		}
	}
	t.Fatalf("no workload %s/%s in %+v", ns, name, rows)
	return stats.StatJSON{}
}

// waitFor polls cond until it holds or timeout passes; then it fails t
// with what says.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v: %s", timeout, what())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// topTmux runs meshctl top in a real terminal (tmux) over live traffic,
// reads the screen, and quits with q.
func (l *liveMesh) topTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux not installed (apt-get install tmux)")
	}
	sock := fmt.Sprintf("meshctl-test-%d", os.Getpid())
	tmux := func(args ...string) (string, error) {
		out, err := exec.Command("tmux", append([]string{"-L", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	defer tmux("kill-server") //nolint:errcheck // gone already when the session ended
	rc := filepath.Join(t.TempDir(), "rc")
	cmd := shellQuote(append([]string{filepath.Join(l.bin, "meshctl"), "top", "--interval", "500ms"}, l.flags()...))
	if out, err := tmux("new-session", "-d", "-x", "200", "-y", "50", cmd+"; echo $? > "+rc); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			l.get("/in-a-terminal") //nolint:errcheck // counted on the screen
			time.Sleep(20 * time.Millisecond)
		}
	})
	defer func() { close(stop); wg.Wait() }()
	count := func(screen string) int {
		sc := bufio.NewScanner(strings.NewReader(screen))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == len(stats.TopHeader) && f[3] == "/in-a-terminal" {
				n, _ := strconv.Atoi(f[4])
				return n
			}
		}
		return 0
	}
	var screen string
	first := 0
	waitFor(t, 15*time.Second, func() bool {
		screen, _ = tmux("capture-pane", "-p")
		first = count(screen)
		return first > 0
	}, func() string { return "no row for /in-a-terminal on the screen:\n" + screen })
	if !strings.Contains(screen, "SOURCE") || !strings.Contains(screen, "default/client") || !strings.Contains(screen, "q: quit") {
		t.Fatalf("screen:\n%s", screen)
	}
	waitFor(t, 10*time.Second, func() bool {
		screen, _ = tmux("capture-pane", "-p")
		return count(screen) > first
	}, func() string { return fmt.Sprintf("the count stayed at %d:\n%s", first, screen) })
	t.Logf("screen:\n%s", screen)
	if out, err := tmux("send-keys", "q"); err != nil {
		t.Fatalf("send-keys: %v: %s", err, out)
	}
	var code string
	waitFor(t, 10*time.Second, func() bool {
		b, err := os.ReadFile(rc)
		code = strings.TrimSpace(string(b))
		return err == nil && code != ""
	}, func() string { s, _ := tmux("capture-pane", "-p"); return "meshctl top did not quit on q:\n" + s })
	if code != "0" {
		t.Fatalf("meshctl top exited %s", code)
	}
}

// shellQuote joins args for sh.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

var _ = promtext.Parse
