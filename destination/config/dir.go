package config

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// Validate checks every configuration file of dir as the destination
// service would load them all at once, and returns every problem, file by
// file (warnings included; Problems.Err ignores those). The error is for
// a directory that cannot be read.
func Validate(dir string) (Problems, error) {
	files, ps, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	m := newMerger()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		f, probs := ParseFile(filepath.Join(dir, name), files[name])
		if len(probs) > 0 {
			ps = append(ps, probs...)
			continue
		}
		if probs := m.conflicts(f); len(probs) > 0 {
			ps = append(ps, probs...)
			continue
		}
		m.add(f)
	}
	ps = append(ps, m.warnings()...)
	sortProblems(ps)
	return ps, nil
}

// Loader follows a directory. Each Reload reads it again; a file whose
// new content has a problem, or clashes with the other files, is
// rejected and its last good version stays in force. A removed file's
// documents are removed.
type Loader struct {
	dir   string
	files map[string]*fileState
	cur   *Config
}

type fileState struct {
	sum  [sha256.Size]byte
	good *File
	// pending is set while the file's content clashes with other files:
	// it is tried again at every Reload, and reported again only when
	// its problems change.
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
func NewLoader(dir string) *Loader {
	return &Loader{dir: dir, files: map[string]*fileState{}, cur: &Config{HealthChecks: map[string]*HealthCheck{}}}
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
	type candidate struct {
		name string
		f    *File
	}
	var fixed []string
	var cands []candidate
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		st := l.files[name]
		sum := sha256.Sum256(data)
		if data == nil || (st != nil && st.sum == sum && !st.pending) {
			fixed = append(fixed, name)
			continue
		}
		if st == nil {
			st = &fileState{}
			l.files[name] = st
		}
		st.sum, st.pending = sum, false
		f, probs := ParseFile(filepath.Join(l.dir, name), data)
		if len(probs) > 0 {
			st.report(&res, probs)
			fixed = append(fixed, name)
			continue
		}
		cands = append(cands, candidate{name, f})
	}
	m := newMerger()
	for _, name := range fixed {
		if st := l.files[name]; st != nil && st.good != nil {
			m.add(st.good)
		}
	}
	for _, c := range cands {
		st := l.files[c.name]
		if probs := m.conflicts(c.f); len(probs) > 0 {
			st.report(&res, probs)
			st.pending = true
			if st.good != nil {
				if len(m.conflicts(st.good)) == 0 {
					m.add(st.good)
				} else {
					st.good, res.Changed = nil, true
				}
			}
			continue
		}
		m.add(c.f)
		st.good, st.reported, res.Changed = c.f, "", true
		res.Loaded = append(res.Loaded, c.f.Path)
		res.Skipped = append(res.Skipped, c.f.Skipped...)
	}
	if res.Changed {
		l.cur = m.config()
		res.Warnings = m.warnings()
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
