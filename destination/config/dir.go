package config

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/meshlite/meshlite/destination/translate"
)

// IsConfigFile reports whether a directory entry named name is read:
// *.yaml, *.yml and *.json files not starting with "." (so the
// ..data links of a mounted ConfigMap are not read twice).
func IsConfigFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// readDir returns the contents of dir's configuration files by name;
// unreadable files are problems.
func readDir(dir string) (map[string][]byte, Problems, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	files := map[string][]byte{}
	var ps Problems
	for _, e := range entries {
		if !IsConfigFile(e.Name()) || e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			if fi, serr := os.Stat(p); serr == nil && fi.IsDir() {
				continue
			}
			ps = append(ps, Problem{File: p, Msg: err.Error()})
			continue
		}
		files[e.Name()] = data
	}
	return files, ps, nil
}

// readPaths reads files, and the configuration files of directories (not
// their subdirectories), by path.
func readPaths(paths []string) (map[string][]byte, Problems, error) {
	files := map[string][]byte{}
	var ps Problems
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("config: %w", err)
		}
		if !fi.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, nil, fmt.Errorf("config: %w", err)
			}
			files[p] = data
			continue
		}
		in, probs, err := readDir(p)
		if err != nil {
			return nil, nil, err
		}
		ps = append(ps, probs...)
		for name, data := range in {
			files[filepath.Join(p, name)] = data
		}
	}
	return files, ps, nil
}

// Validate checks the configuration at paths — files, and the
// configuration files of directories — as the destination service would
// load them all at once, and returns every problem, file by file
// (warnings included; Problems.Err ignores those). The error is for a
// path that cannot be read.
func Validate(o Options, paths ...string) (Problems, error) {
	files, ps, err := readPaths(paths)
	if err != nil {
		return nil, err
	}
	var units []*unit
	for _, name := range slices.Sorted(maps.Keys(files)) {
		f, probs := ParseFile(name, files[name], o)
		if f == nil {
			ps = append(ps, probs...)
			continue
		}
		units = append(units, &unit{name: name, cand: f})
	}
	m, verdicts := settle(o, units)
	for _, u := range units {
		if v := verdicts[u.name]; !v.accepted {
			ps = append(ps, v.probs...)
			ps = append(ps, u.cand.Warnings...)
		}
	}
	ps = append(ps, m.warnings()...)
	sortProblems(ps)
	return ps, nil
}

// unit is one file: its last good version, and a new version to try.
type unit struct {
	name string
	good *File
	cand *File // nil: the file is unchanged, or its new content is bad
}

// verdict says what became of a unit's new version.
type verdict struct {
	accepted bool
	// probs say why it was refused.
	probs Problems
	// dropGood is set when the good version was refused too: it clashes
	// with what was accepted.
	dropGood bool
}

// settle merges the units: the good versions of unchanged files, then
// each new version unless it clashes with what is merged (then its good
// version, if that still fits). A new version whose references dangle (a
// subset nobody defines) is refused too, and so is one that takes away
// a subset an unchanged file uses; then everything is merged again, until
// nothing more is refused. Dangling references left (a file removed)
// are warnings.
func settle(o Options, units []*unit) (*merger, map[string]*verdict) {
	excluded := map[string]Problems{}
	for {
		m := newMerger(o)
		verdicts := map[string]*verdict{}
		for _, u := range units {
			if u.cand == nil && u.good != nil {
				m.add(u.good)
			}
		}
		for _, u := range units {
			if u.cand == nil {
				continue
			}
			v := &verdict{}
			verdicts[u.name] = v
			probs, ex := excluded[u.name]
			if !ex {
				probs = m.conflicts(u.cand)
			}
			if len(probs) == 0 {
				m.add(u.cand)
				v.accepted = true
				continue
			}
			v.probs = probs
			if u.good != nil {
				if len(m.conflicts(u.good)) == 0 {
					m.add(u.good)
				} else {
					v.dropGood = true
				}
			}
		}
		if !refuseDangling(m, units, verdicts, excluded) {
			return m, verdicts
		}
	}
}

// refuseDangling adds to excluded the accepted new versions that leave a
// reference dangling, and reports whether it added any. A new version
// that took away a subset still in use is refused first (the change is
// the mistake, not the route that did not change); then new versions
// that name a subset nobody defines.
func refuseDangling(m *merger, units []*unit, verdicts map[string]*verdict, excluded map[string]Problems) bool {
	var errs []translate.Problem
	for _, p := range m.references() {
		if !p.Warning {
			errs = append(errs, p)
		}
	}
	accepted := func(u *unit) bool { v := verdicts[u.name]; return v != nil && v.accepted }
	more := false
	for _, p := range errs {
		for _, u := range units {
			if !accepted(u) {
				continue
			}
			if b, ok := blame(u, p.Service, p.Subset, fromTranslate(p)); ok && !slices.Contains(excluded[u.name], b) {
				excluded[u.name] = append(excluded[u.name], b)
				more = true
			}
		}
	}
	if more {
		return true
	}
	for _, p := range errs {
		for _, u := range units {
			if accepted(u) && u.cand.Path == p.Source.File {
				excluded[u.name] = append(excluded[u.name], fromTranslate(p))
				more = true
			}
		}
	}
	return more
}

// blame returns the problem of u's new version when it takes away subset
// of service, which its good version defined and the route at ref uses.
func blame(u *unit, service, subset string, ref Problem) (Problem, bool) {
	if u.good == nil || service == "" {
		return Problem{}, false
	}
	if old := u.good.Traffic.DestinationRule(service); old == nil || !old.HasSubset(subset) {
		return Problem{}, false
	}
	at := fmt.Sprintf("%s:%d (%s)", ref.File, ref.Line, ref.Field)
	if dr := u.cand.Traffic.DestinationRule(service); dr != nil {
		if dr.HasSubset(subset) {
			return Problem{}, false
		}
		return Problem{File: u.cand.Path, Line: dr.LineOf("spec.subsets"), Field: "spec.subsets",
			Msg: fmt.Sprintf("subset %q of service %s is still used at %s: keep it until no route uses it", subset, service, at)}, true
	}
	return Problem{File: u.cand.Path,
		Msg: fmt.Sprintf("the DestinationRule of service %s was removed, but its subset %q is still used at %s", service, subset, at)}, true
}

// Loader follows a directory. Each Reload reads it again; a file whose
// new content has a problem, clashes with the other files or names a
// subset nobody defines, is rejected and its last good version stays in
// force. A removed file's documents are removed.
type Loader struct {
	dir   string
	opts  Options
	files map[string]*fileState
	cur   *Config
}

type fileState struct {
	sum  [sha256.Size]byte
	good *File
	// pending is set while the file's content clashes with other files
	// (or names what they do not define): it is tried again at every
	// Reload, and reported again only when its problems change.
	pending  bool
	reported string
}

// Result says what a Reload did.
type Result struct {
	// Changed is set when the configuration in force changed.
	Changed bool
	// Loaded and Removed name the files whose new content took effect,
	// and the files that went away.
	Loaded, Removed []string
	// Rejected are the problems of the files refused by this Reload; a
	// file is reported once per content.
	Rejected Problems
	// Warnings are about the configuration in force after this Reload,
	// reported when it changed.
	Warnings Problems
	// Skipped are the documents of unknown kinds in the loaded files.
	Skipped []Skipped
}

// NewLoader returns a loader for dir with nothing loaded yet.
func NewLoader(dir string, o Options) *Loader {
	return &Loader{dir: dir, opts: o, files: map[string]*fileState{}, cur: newMerger(o).config()}
}

// Dir is the directory followed.
func (l *Loader) Dir() string { return l.dir }

// Config returns the configuration in force.
func (l *Loader) Config() *Config { return l.cur }

// Reload reads the directory again. An error means the directory itself
// could not be read; the configuration in force is kept.
func (l *Loader) Reload() (Result, error) {
	var res Result
	files, unreadable, err := readDir(l.dir)
	if err != nil {
		return res, err
	}
	for _, p := range unreadable {
		files[filepath.Base(p.File)] = nil // keep its state: not removed
	}
	for name := range l.files {
		if _, ok := files[name]; !ok {
			delete(l.files, name)
			res.Changed = true
			res.Removed = append(res.Removed, filepath.Join(l.dir, name))
		}
	}
	res.Rejected = append(res.Rejected, unreadable...)
	var units []*unit
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		st := l.files[name]
		if st == nil {
			st = &fileState{}
			l.files[name] = st
		}
		u := &unit{name: name, good: st.good}
		units = append(units, u)
		sum := sha256.Sum256(data)
		if data == nil || (st.sum == sum && !st.pending) {
			continue
		}
		st.sum, st.pending = sum, false
		f, probs := ParseFile(filepath.Join(l.dir, name), data, l.opts)
		if f == nil {
			st.report(&res, probs)
			continue
		}
		u.cand = f
	}
	m, verdicts := settle(l.opts, units)
	for _, u := range units {
		v := verdicts[u.name]
		if v == nil {
			continue
		}
		st := l.files[u.name]
		if !v.accepted {
			st.report(&res, v.probs)
			st.pending = true
			if v.dropGood {
				st.good, res.Changed = nil, true
			}
			continue
		}
		st.good, st.reported, res.Changed = u.cand, "", true
		res.Loaded = append(res.Loaded, u.cand.Path)
		res.Skipped = append(res.Skipped, u.cand.Skipped...)
	}
	if res.Changed {
		l.cur = m.config()
		res.Warnings = m.warnings()
		sortProblems(res.Warnings)
	}
	sortProblems(res.Rejected)
	return res, nil
}

// report adds probs to res unless they were reported last time.
func (st *fileState) report(res *Result, probs Problems) {
	if text := probs.Error(); text != st.reported {
		res.Rejected = append(res.Rejected, probs...)
		st.reported = text
	}
}
