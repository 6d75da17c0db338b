package netenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ProcSpec describes a process to run in a pod.
type ProcSpec struct {
	// Name labels the process in errors. Default: the base name of Path.
	Name string
	// Path is the program, looked up in PATH when it has no slash.
	Path string
	// Args are the arguments after the program name.
	Args []string
	// Env is added to the test process's environment; later entries win.
	Env []string
	// UID and GID the process runs as; 0 is root. When either is not 0
	// the process runs under setpriv with no supplementary groups.
	UID, GID int
	// Dir is the working directory. Default: the caller's.
	Dir string
	// Output, when set, also receives everything the process writes to
	// stdout and stderr (e.g. os.Stderr for the demo). Write errors are
	// ignored.
	Output io.Writer
}

// Proc is a process started in a pod with Pod.Start. It runs in its own
// process group.
type Proc struct {
	// Name is the ProcSpec's name.
	Name string

	pod  *Pod
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // set before done is closed
}

// argv returns the arguments of `ip` that run path as uid:gid in p.
func (p *Pod) argv(uid, gid int, path string, args []string) []string {
	a := []string{"netns", "exec", p.NetNS}
	if uid != 0 || gid != 0 {
		a = append(a, "setpriv", "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(gid), "--clear-groups", "--")
	}
	a = append(a, path)
	return append(a, args...)
}

// Command returns a one-shot command (curl, iptables, getent...) to run in
// the pod as uid (gid = uid; 0 is root) through `ip netns exec`, so the
// pod's hosts file applies. The caller sets its I/O and runs it.
func (p *Pod) Command(ctx context.Context, uid int, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, ipBin, p.argv(uid, uid, name, args)...)
}

// Start starts a long-running process in the pod. Its stdout and stderr are
// captured (Output) and teed to spec.Output. When ctx is done the process
// group gets SIGTERM, the process SIGKILL if it still runs a second later,
// and the rest of its group SIGKILL once it is gone. Env.Close stops it
// too (see Stop).
func (p *Pod) Start(ctx context.Context, spec ProcSpec) (*Proc, error) {
	if spec.Path == "" {
		return nil, fmt.Errorf("netenv: pod %s: start: empty path", p.Name)
	}
	if spec.Name == "" {
		spec.Name = filepath.Base(spec.Path)
	}
	cmd := exec.CommandContext(ctx, ipBin, p.argv(spec.UID, spec.GID, spec.Path, spec.Args)...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Dir = spec.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr := &Proc{Name: spec.Name, pod: p, cmd: cmd, out: &syncBuffer{tee: spec.Output}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = pr.out, pr.out
	cmd.Cancel = func() error { return pr.signal(syscall.SIGTERM) }
	// After the process exits, or a second after a cancel, stop waiting
	// for children that still hold the output pipe; Stop kills them.
	cmd.WaitDelay = time.Second
	if err := p.env.track(pr, cmd.Start); err != nil {
		return nil, fmt.Errorf("netenv: pod %s: start %s: %w", p.Name, spec.Name, err)
	}
	go func() {
		pr.err = cmd.Wait()
		if ctx.Err() != nil {
			_ = pr.signal(syscall.SIGKILL) // what is left of the group
		}
		close(pr.done)
		p.env.untrack(pr)
	}()
	return pr, nil
}

// PID returns the process's PID, which is also its process group id.
func (pr *Proc) PID() int { return pr.cmd.Process.Pid }

// Pod returns the pod the process runs in.
func (pr *Proc) Pod() *Pod { return pr.pod }

// Output returns what the process has written to stdout and stderr so far.
func (pr *Proc) Output() string { return pr.out.String() }

// Exited is closed when the process has exited and been reaped.
func (pr *Proc) Exited() <-chan struct{} { return pr.done }

// Wait waits for the process to exit and returns the error of
// exec.Cmd.Wait (nil for exit status 0).
func (pr *Proc) Wait() error {
	<-pr.done
	return pr.err
}

// ExitCode returns the exit status, or -1 while the process runs or when a
// signal ended it.
func (pr *Proc) ExitCode() int {
	select {
	case <-pr.done:
		if pr.cmd.ProcessState == nil {
			return -1
		}
		return pr.cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}

// Stop sends SIGTERM to the process group, waits up to grace for the
// process to exit, then sends SIGKILL. Once the process has exited, any
// member of its group still alive is killed. It returns an error only if
// the process could not be stopped; how it exited is Wait's business.
func (pr *Proc) Stop(grace time.Duration) error {
	select {
	case <-pr.done:
		_ = pr.signal(syscall.SIGKILL) // stragglers of the group
		return nil
	default:
	}
	var errs []error
	if err := pr.signal(syscall.SIGTERM); err != nil {
		errs = append(errs, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-pr.done:
	case <-t.C:
	}
	if err := pr.signal(syscall.SIGKILL); err != nil {
		errs = append(errs, err)
	}
	t.Reset(5 * time.Second)
	select {
	case <-pr.done:
		return nil
	case <-t.C:
		errs = append(errs, errors.New("still running 5s after SIGKILL"))
		return fmt.Errorf("netenv: pod %s: stop %s (pid %d): %w", pr.pod.Name, pr.Name, pr.PID(), errors.Join(errs...))
	}
}

// signal sends sig to the process group; a group already gone is not an
// error.
func (pr *Proc) signal(sig syscall.Signal) error {
	err := syscall.Kill(-pr.cmd.Process.Pid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("netenv: signal %v to process group %d: %w", sig, pr.cmd.Process.Pid, err)
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for concurrent use that copies writes
// to tee.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	tee io.Writer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.tee != nil {
		_, _ = b.tee.Write(p)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
