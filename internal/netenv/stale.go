package netenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// etcNetns is where `ip netns exec` finds per-namespace files to bind-mount
// over /etc.
const etcNetns = "/etc/netns"

// idLen is the length of an Env's random id (hex digits).
const idLen = 4

// prefixRE is what Options.Prefix must match: short enough that
// "<prefix>-<id>-v999" fits in a 15-byte interface name.
var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,4}$`)

// envNameRE matches the Env name ("<prefix>-<id>") at the start of a
// resource name.
func envNameRE(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^(` + regexp.QuoteMeta(prefix) + `-[0-9a-f]{` + fmt.Sprint(idLen) + `})(-|$)`)
}

// resources are the names found on the host that belong to one Env.
type resources struct {
	netns, links, dirs []string
	record             bool
}

// inventory groups the netns, links, /etc/netns dirs and owner records whose
// names start with "<prefix>-<id>" by Env name.
func inventory(ctx context.Context, prefix string) (map[string]*resources, map[string]owner, error) {
	re := envNameRE(prefix)
	found := map[string]*resources{}
	get := func(name string) *resources {
		m := re.FindStringSubmatch(name)
		if m == nil {
			return nil
		}
		if found[m[1]] == nil {
			found[m[1]] = &resources{}
		}
		return found[m[1]]
	}
	netns, err := listNetns(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range netns {
		if r := get(n); r != nil {
			r.netns = append(r.netns, n)
		}
	}
	links, err := listLinks(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, l := range links {
		if r := get(l); r != nil {
			r.links = append(r.links, l)
		}
	}
	dirs, err := os.ReadDir(etcNetns)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("netenv: read %s: %w", etcNetns, err)
	}
	for _, d := range dirs {
		if r := get(d.Name()); r != nil {
			r.dirs = append(r.dirs, d.Name())
		}
	}
	recs, err := readRecords()
	if err != nil {
		return nil, nil, err
	}
	for name := range recs {
		if r := get(name); r != nil && re.FindStringSubmatch(name)[1] == name {
			r.record = true
		}
	}
	return found, recs, nil
}

// CleanupStale removes what crashed earlier runs with this prefix left
// behind: for every Env named "<prefix>-<id>" whose owner process is gone
// (or that has no owner record at all), it kills the processes in its
// network namespaces, deletes its namespaces, links (veths, bridge) and
// /etc/netns directories, and its owner record. Envs of live processes are
// left alone. New calls it for its own prefix; `make demo` or a CLI may call
// it directly. All errors are collected.
func CleanupStale(ctx context.Context, prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("netenv: invalid prefix %q (want %s)", prefix, prefixRE)
	}
	unlock, err := lockState(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	_, err = cleanupStaleLocked(ctx, prefix)
	return err
}

// cleanupStaleLocked is CleanupStale with the state lock held. It returns
// the owner records of the live envs (of every prefix).
func cleanupStaleLocked(ctx context.Context, prefix string) (map[string]owner, error) {
	found, recs, err := inventory(ctx, prefix)
	if err != nil {
		return nil, err
	}
	live := map[string]owner{}
	for name, o := range recs {
		if o.alive() {
			live[name] = o
		}
	}
	var errs []error
	for name, res := range found {
		if _, ok := live[name]; ok {
			continue
		}
		errs = append(errs, destroy(ctx, res)...)
		if res.record {
			if err := os.Remove(recordPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("netenv: remove owner record: %w", err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("netenv: clean up stale envs with prefix %q: %w", prefix, err)
	}
	return live, nil
}

// destroy kills the processes in the namespaces of res, then deletes its
// links, namespaces and /etc/netns directories. It never kills the calling
// process (whose main thread may be inside a pod during Pod.Do).
func destroy(ctx context.Context, res *resources) []error {
	var errs []error
	for _, ns := range res.netns {
		// Objects may vanish meanwhile (a concurrent Close or cleanup):
		// "not found" is success.
		pids, err := netnsPIDs(ctx, ns)
		if err != nil && !notFound(err) {
			errs = append(errs, err)
		}
		for _, pid := range pids {
			if pid == os.Getpid() {
				continue
			}
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("netenv: kill pid %d in netns %s: %w", pid, ns, err))
			}
		}
	}
	// Deleting a veth takes its peer with it at once; the bridge goes last.
	links := slices.Clone(res.links)
	slices.SortFunc(links, func(a, b string) int {
		return boolInt(strings.HasSuffix(a, "-br")) - boolInt(strings.HasSuffix(b, "-br"))
	})
	for _, l := range links {
		if _, err := ip(ctx, "link", "del", l); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
	}
	for _, ns := range res.netns {
		if _, err := ip(ctx, "netns", "del", ns); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
	}
	for _, d := range res.dirs {
		if err := os.RemoveAll(filepath.Join(etcNetns, d)); err != nil {
			errs = append(errs, fmt.Errorf("netenv: remove %s: %w", filepath.Join(etcNetns, d), err))
		}
	}
	return errs
}

// notFound reports whether a failed ip command said the object is gone.
func notFound(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Cannot find device") || strings.Contains(s, "No such file") ||
		strings.Contains(s, "does not exist")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
