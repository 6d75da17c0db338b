package redirect

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Outcome is what Apply or Remove did to one family.
type Outcome struct {
	Family Family
	// Chains and Rules count what was created and appended (Apply) or
	// deleted (Remove). Both are 0 when the rules were already in place
	// (Apply) or there was nothing to remove (Remove).
	Chains, Rules int
}

// Apply installs the plan with the targets, one per family of the plan.
//
// It first reads every family's nat table. A family whose meshlite rules
// already match the plan is left alone, so running Apply twice changes
// nothing the second time. If a family has meshlite rules that differ from
// the plan, nothing is touched and the error is ErrConflict: Remove first.
//
// Then, family after family, it creates the chains and appends the rules in
// the plan's order. If any step fails it undoes, in reverse, every step it
// took (rules deleted, chains deleted), which restores the prior rules
// exactly, and returns the failure.
func Apply(p Plan, targets []Target) ([]Outcome, error) {
	var (
		out  []Outcome
		todo []FamilyPlan
	)
	for _, fp := range p.Families {
		t, err := target(targets, fp.Family)
		if err != nil {
			return nil, err
		}
		st, err := readState(t)
		if err != nil {
			return nil, err
		}
		switch d := diff(fp, st); {
		case len(d) == 0:
			out = append(out, Outcome{Family: fp.Family})
		case !st.empty():
			return nil, fmt.Errorf("%w:\n  %s", ErrConflict, strings.Join(d, "\n  "))
		default:
			todo = append(todo, fp)
		}
	}
	var undo []func() error
	fail := func(err error) error {
		var errs []error
		for _, u := range slices.Backward(undo) {
			if uerr := u(); uerr != nil {
				errs = append(errs, uerr)
			}
		}
		if len(errs) > 0 {
			return errors.Join(err, fmt.Errorf("redirect: rollback incomplete, meshlite rules may be left: %w", errors.Join(errs...)))
		}
		return fmt.Errorf("%w (rolled back: nothing changed)", err)
	}
	for _, fp := range todo {
		t, _ := target(targets, fp.Family)
		for _, c := range fp.Chains {
			if err := t.Tables.NewChain(Table, c); err != nil {
				return nil, fail(fmt.Errorf("redirect: %s: create chain %s: %w", fp.Family, c, classify(err)))
			}
			undo = append(undo, func() error {
				if err := t.Tables.DeleteChain(Table, c); err != nil {
					return fmt.Errorf("redirect: %s: delete chain %s: %w", fp.Family, c, classify(err))
				}
				return nil
			})
		}
		for _, r := range fp.Rules {
			if err := t.Tables.Append(Table, r.Chain, r.Spec...); err != nil {
				return nil, fail(fmt.Errorf("redirect: %s: append %s: %w", fp.Family, r, classify(err)))
			}
			undo = append(undo, func() error {
				if err := t.Tables.Delete(Table, r.Chain, r.Spec...); err != nil {
					return fmt.Errorf("redirect: %s: delete %s: %w", fp.Family, r, classify(err))
				}
				return nil
			})
		}
		out = append(out, Outcome{Family: fp.Family, Chains: len(fp.Chains), Rules: len(fp.Rules)})
	}
	return out, nil
}

// Remove deletes, for each target, exactly what meshlite adds, whatever
// options it was applied with: every rule whose comment starts with
// "meshlite/" (the jumps first), then meshlite's chains with their rules.
// Nothing else is touched. With nothing to remove it does nothing.
func Remove(targets []Target) ([]Outcome, error) {
	var out []Outcome
	for _, t := range targets {
		st, err := readState(t)
		if err != nil {
			return out, err
		}
		o := Outcome{Family: t.Family}
		for _, c := range st.chains {
			if isOwnChain(c) {
				continue
			}
			for _, r := range st.meshliteRules(c) {
				if err := t.Tables.Delete(Table, c, r.Spec...); err != nil {
					return out, fmt.Errorf("redirect: %s: delete %s: %w", t.Family, r, classify(err))
				}
				o.Rules++
			}
		}
		for _, c := range ownChains {
			if !st.has(c) {
				continue
			}
			for _, r := range st.rules[c] {
				if err := t.Tables.Delete(Table, c, r.Spec...); err != nil {
					return out, fmt.Errorf("redirect: %s: delete %s: %w", t.Family, r, classify(err))
				}
				o.Rules++
			}
			if err := t.Tables.DeleteChain(Table, c); err != nil {
				return out, fmt.Errorf("redirect: %s: delete chain %s: %w", t.Family, c, classify(err))
			}
			o.Chains++
		}
		out = append(out, o)
	}
	return out, nil
}

// Verify checks that the rules in place match the plan, family by family.
// The error is a *MismatchError (ErrMismatch) listing every difference, or
// the failure to read the rules.
func Verify(p Plan, targets []Target) error {
	var d []string
	for _, fp := range p.Families {
		t, err := target(targets, fp.Family)
		if err != nil {
			return err
		}
		st, err := readState(t)
		if err != nil {
			return err
		}
		d = append(d, diff(fp, st)...)
	}
	if len(d) > 0 {
		return &MismatchError{Differences: d}
	}
	return nil
}

// target returns the target of family f.
func target(targets []Target, f Family) (Target, error) {
	for _, t := range targets {
		if t.Family == f {
			return t, nil
		}
	}
	return Target{}, fmt.Errorf("redirect: no iptables target for %s", f)
}
