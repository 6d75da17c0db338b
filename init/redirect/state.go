package redirect

import (
	"fmt"
	"slices"
	"strings"
)

// Tables is what meshlite-init needs from one iptables binary (one family,
// one mode). *iptables.IPTables of github.com/coreos/go-iptables has it.
type Tables interface {
	// ListChains returns the chains of table, built-in ones first.
	ListChains(table string) ([]string, error)
	// List returns chain's policy or definition and its rules, as
	// iptables -S prints them.
	List(table, chain string) ([]string, error)
	NewChain(table, chain string) error
	DeleteChain(table, chain string) error
	Append(table, chain string, rulespec ...string) error
	Delete(table, chain string, rulespec ...string) error
}

// Target is the iptables binary that handles one family.
type Target struct {
	Family Family
	// Path of the binary, for messages.
	Path   string
	Tables Tables
}

// state is the nat table of one family as read back.
type state struct {
	chains []string
	rules  map[string][]Rule
}

// readState reads every chain of the nat table.
func readState(t Target) (state, error) {
	chains, err := t.Tables.ListChains(Table)
	if err != nil {
		return state{}, fmt.Errorf("redirect: %s: list chains of %s: %w", t.Family, Table, classify(err))
	}
	st := state{chains: chains, rules: map[string][]Rule{}}
	for _, c := range chains {
		lines, err := t.Tables.List(Table, c)
		if err != nil {
			return state{}, fmt.Errorf("redirect: %s: list %s: %w", t.Family, c, classify(err))
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, "-A ") {
				continue
			}
			r, err := parseRule(l)
			if err != nil {
				return state{}, fmt.Errorf("redirect: %s: %w", t.Family, err)
			}
			st.rules[c] = append(st.rules[c], r)
		}
	}
	return st, nil
}

// has reports whether the chain exists.
func (s state) has(chain string) bool { return slices.Contains(s.chains, chain) }

// isOwnChain reports whether meshlite creates chain.
func isOwnChain(chain string) bool { return slices.Contains(ownChains, chain) }

// meshliteRules returns the rules of chain that carry meshlite's comment.
func (s state) meshliteRules(chain string) []Rule {
	var out []Rule
	for _, r := range s.rules[chain] {
		if r.Purpose() != "" {
			out = append(out, r)
		}
	}
	return out
}

// empty reports whether nothing of meshlite's is in the table: none of its
// chains and no rule with its comment.
func (s state) empty() bool {
	for _, c := range s.chains {
		if isOwnChain(c) || len(s.meshliteRules(c)) > 0 {
			return false
		}
	}
	return true
}

// diff lists how meshlite's part of s differs from fp: its chains must hold
// exactly the planned rules in order, and other chains exactly the planned
// rules that carry meshlite's comment (the jumps), in any position.
func diff(fp FamilyPlan, s state) []string {
	planned := map[string][]Rule{}
	var order []string
	for _, r := range fp.Rules {
		if _, ok := planned[r.Chain]; !ok {
			order = append(order, r.Chain)
		}
		planned[r.Chain] = append(planned[r.Chain], r)
	}
	var d []string
	for _, c := range fp.Chains {
		if !s.has(c) {
			d = append(d, fmt.Sprintf("chain %s is missing", c))
			continue
		}
		d = append(d, diffRules(c, planned[c], s.rules[c], true)...)
	}
	for _, c := range order {
		if !slices.Contains(fp.Chains, c) {
			d = append(d, diffRules(c, planned[c], s.meshliteRules(c), false)...)
		}
	}
	for _, c := range s.chains {
		if _, ok := planned[c]; !ok && !slices.Contains(fp.Chains, c) {
			d = append(d, diffRules(c, nil, s.meshliteRules(c), false)...)
		}
	}
	for i := range d {
		d[i] = fp.Family.String() + ": " + d[i]
	}
	return d
}

// diffRules compares the rules of one chain as multisets, then, when
// ordered and they are equal, their order.
func diffRules(chain string, want, got []Rule, ordered bool) []string {
	count := map[string]int{}
	for _, r := range want {
		count[r.String()]++
	}
	for _, r := range got {
		count[r.String()]--
	}
	var d []string
	for _, r := range want {
		if k := r.String(); count[k] > 0 {
			count[k]--
			d = append(d, "missing: "+k)
		}
	}
	for _, r := range got {
		if k := r.String(); count[k] < 0 {
			count[k]++
			d = append(d, "unexpected: "+k)
		}
	}
	if len(d) == 0 && ordered && !slices.EqualFunc(want, got, Rule.equal) {
		d = append(d, fmt.Sprintf("chain %s has the planned rules in another order", chain))
	}
	return d
}
