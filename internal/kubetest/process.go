package kubetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// process is one control-plane process. Its stdout and stderr go to a log
// file (and to tee, when set); it runs in its own process group and dies
// with the test process (Pdeathsig, see spawner).
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{}
	err     error // set before done is closed
}

// startProcess runs path with args from sp's thread, logging to
// dir/<name>.log.
func startProcess(sp *spawner, name, path string, args []string, dir string, tee io.Writer) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("kubetest: %s: log: %w", name, err)
	}
	fmt.Fprintf(f, "+ %s %s\n", path, strings.Join(args, " "))
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = childEnv(dir)
	var out io.Writer = f
	if tee != nil {
		out = io.MultiWriter(f, &prefixWriter{prefix: name + ": ", w: tee})
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := sp.start(cmd); err != nil {
		f.Close()
		return nil, fmt.Errorf("kubetest: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// spawner starts processes from one OS thread that lives as long as the
// cluster. The kernel sends Pdeathsig when the thread that forked a child
// exits, not the process; Go may end a thread under a goroutine that locked
// it (as network-namespace code does), which would kill a child forked
// there. Forking from a locked thread of our own keeps the children alive
// until Stop, and still kills them when the test process dies (a test
// timeout, a crash), so no etcd or API server outlives its test.
type spawner struct {
	reqs chan func()
}

func newSpawner() *spawner {
	sp := &spawner{reqs: make(chan func())}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for f := range sp.reqs {
			f()
		}
	}()
	return sp
}

// start starts cmd on the spawner's thread.
func (sp *spawner) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	sp.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

// close ends the spawner's goroutine; call it once its children are gone.
func (sp *spawner) close() { close(sp.reqs) }

// childEnv is the environment of the control-plane processes: the test
// process's, with HOME and KUBECONFIG pointing into the cluster's
// directory so nothing reads or writes the user's ~/.kube.
func childEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "HOME" || k == "KUBECONFIG" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+dir, "KUBECONFIG="+filepath.Join(dir, "admin.kubeconfig"))
}

// exited reports, without blocking, whether the process has ended and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		if p.err == nil {
			return true, fmt.Errorf("kubetest: %s exited", p.name)
		}
		return true, fmt.Errorf("kubetest: %s exited: %w", p.name, p.err)
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process group, SIGKILL after grace, and waits
// for the process to be reaped.
func (p *process) stop(grace time.Duration) error {
	select {
	case <-p.done:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // stragglers of the group
		return nil
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kubetest: kill %s: %w", p.name, err)
	}
	t.Reset(10 * time.Second)
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("kubetest: %s (pid %d) still running 10s after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// tail returns at most the last max bytes of the process's log, starting
// at a line boundary.
func (p *process) tail(max int64) string {
	data, err := readTail(p.logPath, max)
	if err != nil {
		return fmt.Sprintf("(%s log: %v)", p.name, err)
	}
	return string(data)
}

func readTail(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := fi.Size() - max
	if off < 0 {
		off = 0
	}
	data := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(data, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if off > 0 {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return data, nil
}

// addrInUse reports whether the process's log says a port was taken
// between choosing it and binding it.
func (p *process) addrInUse() bool {
	data, err := readTail(p.logPath, 64<<10)
	return err == nil && bytes.Contains(data, []byte("address already in use"))
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. Another process may take one before it is bound; starters
// retry on "address already in use".
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("kubetest: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// prefixWriter prefixes every line written to w and ignores w's errors.
type prefixWriter struct {
	prefix  string
	w       io.Writer
	midLine bool
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	var buf bytes.Buffer
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !pw.midLine {
			buf.WriteString(pw.prefix)
		}
		buf.Write(line)
		pw.midLine = line[len(line)-1] != '\n'
	}
	_, _ = pw.w.Write(buf.Bytes()) // a failing tee must not stall the process
	return len(b), nil
}
