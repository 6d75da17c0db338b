package redirect

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// fakeTables is an in-memory nat table with iptables' rules for chains:
// built-in chains cannot be created or deleted, a chain must be empty and
// unreferenced to be deleted, Delete removes the first identical rule.
// When failAt is n > 0, the n-th change fails.
type fakeTables struct {
	chains  []string
	rules   map[string][]Rule
	changes int
	failAt  int
}

var builtin = []string{"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"}

func newFake() *fakeTables {
	return &fakeTables{chains: slices.Clone(builtin), rules: map[string][]Rule{}}
}

var _ Tables = (*fakeTables)(nil)

// change counts a change and fails the failAt-th one.
func (f *fakeTables) change(what string) error {
	f.changes++
	if f.failAt > 0 && f.changes == f.failAt {
		return fmt.Errorf("injected failure of change %d (%s)", f.changes, what)
	}
	return nil
}

func (f *fakeTables) check(table, chain string) error {
	if table != Table {
		return fmt.Errorf("table %q", table)
	}
	if !slices.Contains(f.chains, chain) {
		return errors.New("No chain/target/match by that name.")
	}
	return nil
}

func (f *fakeTables) ListChains(table string) ([]string, error) {
	return slices.Clone(f.chains), nil
}

func (f *fakeTables) List(table, chain string) ([]string, error) {
	if err := f.check(table, chain); err != nil {
		return nil, err
	}
	head := "-N " + chain
	if slices.Contains(builtin, chain) {
		head = "-P " + chain + " ACCEPT"
	}
	out := []string{head}
	for _, r := range f.rules[chain] {
		out = append(out, r.String())
	}
	return out, nil
}

func (f *fakeTables) NewChain(table, chain string) error {
	if slices.Contains(f.chains, chain) {
		return errors.New("Chain already exists.")
	}
	if err := f.change("new chain " + chain); err != nil {
		return err
	}
	f.chains = append(f.chains, chain)
	return nil
}

func (f *fakeTables) DeleteChain(table, chain string) error {
	if err := f.check(table, chain); err != nil {
		return err
	}
	if slices.Contains(builtin, chain) || len(f.rules[chain]) > 0 {
		return errors.New("Directory not empty")
	}
	for _, rs := range f.rules {
		for _, r := range rs {
			if slices.Contains(r.Spec, chain) {
				return errors.New("Too many links")
			}
		}
	}
	if err := f.change("delete chain " + chain); err != nil {
		return err
	}
	f.chains = slices.DeleteFunc(f.chains, func(c string) bool { return c == chain })
	delete(f.rules, chain)
	return nil
}

func (f *fakeTables) Append(table, chain string, spec ...string) error {
	if err := f.check(table, chain); err != nil {
		return err
	}
	if err := f.change("append to " + chain); err != nil {
		return err
	}
	f.rules[chain] = append(f.rules[chain], Rule{Chain: chain, Spec: slices.Clone(spec)})
	return nil
}

func (f *fakeTables) Delete(table, chain string, spec ...string) error {
	if err := f.check(table, chain); err != nil {
		return err
	}
	want := Rule{Chain: chain, Spec: spec}
	i := slices.IndexFunc(f.rules[chain], want.equal)
	if i < 0 {
		return errors.New("Bad rule (does a matching rule exist in that chain?).")
	}
	if err := f.change("delete from " + chain); err != nil {
		return err
	}
	f.rules[chain] = slices.Delete(f.rules[chain], i, i+1)
	return nil
}

// save renders the table as iptables-save would, for comparisons.
func (f *fakeTables) save() string {
	var b strings.Builder
	for _, c := range f.chains {
		fmt.Fprintf(&b, ":%s\n", c)
	}
	for _, c := range f.chains {
		for _, r := range f.rules[c] {
			b.WriteString(r.String() + "\n")
		}
	}
	return b.String()
}

// withUnrelated adds rules that are not meshlite's: a chain of someone
// else's, a rule in OUTPUT before ours and one whose comment merely
// mentions meshlite.
func (f *fakeTables) withUnrelated() *fakeTables {
	f.chains = append(f.chains, "KUBE_SERVICES")
	f.rules["KUBE_SERVICES"] = []Rule{{Chain: "KUBE_SERVICES", Spec: []string{"-d", "10.96.0.1/32", "-p", "tcp", "-j", "RETURN"}}}
	f.rules["OUTPUT"] = []Rule{{Chain: "OUTPUT", Spec: []string{"-m", "comment", "--comment", "meshlite is not my owner", "-j", "KUBE_SERVICES"}}}
	f.rules["POSTROUTING"] = []Rule{{Chain: "POSTROUTING", Spec: []string{"-s", "10.0.0.0/8", "-j", "MASQUERADE"}}}
	return f
}

// targetsOf returns one fake per family of p.
func targetsOf(p Plan, mk func() *fakeTables) ([]Target, map[Family]*fakeTables) {
	var ts []Target
	fakes := map[Family]*fakeTables{}
	for _, fp := range p.Families {
		f := mk()
		fakes[fp.Family] = f
		ts = append(ts, Target{Family: fp.Family, Path: "fake-" + fp.Family.Command(), Tables: f})
	}
	return ts, fakes
}
