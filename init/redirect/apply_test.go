package redirect

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

func mustPlan(t *testing.T, o Options) Plan {
	t.Helper()
	p, err := NewPlan(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fullOptions sets every option, for plans with every kind of rule.
func fullOptions() Options {
	o := DefaultOptions()
	o.ProxyGID = 2103
	o.OutboundPortsToIgnore = Ports{{25, 25}, {3306, 3306}, {9000, 9010}}
	o.SubnetsToIgnore = Prefixes{mustPrefix("10.1.0.0/16"), mustPrefix("fd00:1::/64")}
	o.OutboundSubnetsToIgnore = Prefixes{mustPrefix("169.254.169.254/32"), mustPrefix("fd00:2::/64")}
	o.PodServiceAddresses = Addrs{mustAddr("10.96.0.20"), mustAddr("fd6d:6c00:ffff::20")}
	return o
}

func saves(fakes map[Family]*fakeTables) map[Family]string {
	m := map[Family]string{}
	for f, ft := range fakes {
		m[f] = ft.save()
	}
	return m
}

func TestApplyIdempotentAndRemoveExact(t *testing.T) {
	p := mustPlan(t, fullOptions())
	ts, fakes := targetsOf(p, func() *fakeTables { return newFake().withUnrelated() })
	before := saves(fakes)

	res, err := Apply(p, ts)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		fp := p.Families[i]
		if r.Family != fp.Family || r.Chains != 2 || r.Rules != len(fp.Rules) {
			t.Errorf("outcome %+v, want 2 chains and %d rules of %s", r, len(fp.Rules), fp.Family)
		}
	}
	once := saves(fakes)
	if err := Verify(p, ts); err != nil {
		t.Fatalf("Verify after Apply: %v", err)
	}
	changes := fakes[IPv4].changes
	res, err = Apply(p, ts)
	if err != nil {
		t.Fatal(err)
	}
	if fakes[IPv4].changes != changes || res[0].Rules != 0 {
		t.Errorf("second Apply changed something: %+v", res)
	}
	if twice := saves(fakes); !maps.Equal(once, twice) {
		t.Errorf("second Apply changed the rules:\n%v\nwant\n%v", twice, once)
	}

	// Remove finds meshlite's rules by their comment, whatever the
	// options were.
	res, err = Remove(ts)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Chains != 2 || res[0].Rules != len(p.Families[0].Rules) {
		t.Errorf("Remove: %+v", res)
	}
	if after := saves(fakes); !maps.Equal(before, after) {
		t.Errorf("after Remove:\n%v\nwant the prior rules\n%v", after, before)
	}
	res, err = Remove(ts)
	if err != nil || res[0].Rules != 0 || res[0].Chains != 0 {
		t.Errorf("second Remove: %+v, %v; want nothing removed", res, err)
	}
}

// TestApplyRollback fails every change Apply makes in turn: each time the
// tables must end as they were.
func TestApplyRollback(t *testing.T) {
	p := mustPlan(t, fullOptions())
	total := 0
	for _, fp := range p.Families {
		total += len(fp.Chains) + len(fp.Rules)
	}
	for n := 1; n <= total; n++ {
		// The failure is in the IPv4 tables for the first half, the
		// IPv6 ones after: number the changes across both.
		v4 := len(p.Families[0].Chains) + len(p.Families[0].Rules)
		ts, fakes := targetsOf(p, func() *fakeTables { return newFake().withUnrelated() })
		if n <= v4 {
			fakes[IPv4].failAt = n
		} else {
			fakes[IPv6].failAt = n - v4
		}
		before := saves(fakes)
		_, err := Apply(p, ts)
		if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "rolled back") {
			t.Fatalf("change %d: err = %v, want the injected failure, rolled back", n, err)
		}
		if after := saves(fakes); !maps.Equal(before, after) {
			t.Fatalf("change %d failed: tables after rollback\n%v\nwant\n%v", n, after, before)
		}
	}
}

// TestApplyRollbackIncomplete: when undoing fails too, both errors are
// reported.
func TestApplyRollbackIncomplete(t *testing.T) {
	p := mustPlan(t, DefaultOptions())
	ts, fakes := targetsOf(p, newFake)
	fakes[IPv6].failAt = 3
	// Make the IPv4 undo fail: its first deletion fails.
	ts[0].Tables = &failDelete{fakes[IPv4]}
	_, err := Apply(p, ts)
	if err == nil || !strings.Contains(err.Error(), "rollback incomplete") {
		t.Fatalf("err = %v, want rollback incomplete", err)
	}
}

type failDelete struct{ *fakeTables }

func (f *failDelete) Delete(table, chain string, spec ...string) error {
	return errors.New("cannot delete")
}

func TestApplyConflict(t *testing.T) {
	old := mustPlan(t, DefaultOptions())
	ts, fakes := targetsOf(old, newFake)
	if _, err := Apply(old, ts); err != nil {
		t.Fatal(err)
	}
	installed := saves(fakes)
	o := DefaultOptions()
	o.OutboundPort = 15001
	_, err := Apply(mustPlan(t, o), ts)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "--to-ports 15001") {
		t.Fatalf("err = %v, want ErrConflict naming the new rule", err)
	}
	if now := saves(fakes); !maps.Equal(installed, now) {
		t.Errorf("a conflicting Apply changed the rules")
	}
}

func TestVerifyDifferences(t *testing.T) {
	p := mustPlan(t, fullOptions())
	redirectOut := p.Families[0].Rules[slices.IndexFunc(p.Families[0].Rules, func(r Rule) bool { return r.Purpose() == "outbound-redirect" })]
	jump := Rule{Chain: "OUTPUT", Spec: []string{"-p", "tcp", "-m", "comment", "--comment", "meshlite/outbound-jump", "-j", OutboundChain}}
	tests := []struct {
		name   string
		tamper func(f *fakeTables)
		want   []string
	}{
		{"deleted rule", func(f *fakeTables) {
			_ = f.Delete(Table, OutboundChain, redirectOut.Spec...)
		}, []string{"IPv4: missing: " + redirectOut.String()}},
		{"foreign rule in our chain", func(f *fakeTables) {
			_ = f.Append(Table, OutboundChain, "-p", "udp", "-j", "RETURN")
		}, []string{"IPv4: unexpected: -A MESHLITE_OUTPUT -p udp -j RETURN"}},
		{"duplicated jump", func(f *fakeTables) {
			_ = f.Append(Table, "OUTPUT", jump.Spec...)
		}, []string{"IPv4: unexpected: " + jump.String()}},
		{"stray meshlite rule", func(f *fakeTables) {
			_ = f.Append(Table, "POSTROUTING", "-m", "comment", "--comment", "meshlite/old", "-j", "MASQUERADE")
		}, []string{`IPv4: unexpected: -A POSTROUTING -m comment --comment "meshlite/old" -j MASQUERADE`}},
		{"reordered", func(f *fakeTables) {
			rs := f.rules[OutboundChain]
			rs[0], rs[1] = rs[1], rs[0]
		}, []string{"IPv4: chain MESHLITE_OUTPUT has the planned rules in another order"}},
		{"chain gone", func(f *fakeTables) {
			f.rules[InboundChain] = nil
			f.rules["PREROUTING"] = nil
			_ = f.DeleteChain(Table, InboundChain)
		}, []string{"IPv4: chain MESHLITE_INBOUND is missing", "IPv4: missing: -A PREROUTING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, fakes := targetsOf(p, func() *fakeTables { return newFake().withUnrelated() })
			if _, err := Apply(p, ts); err != nil {
				t.Fatal(err)
			}
			tt.tamper(fakes[IPv4])
			err := Verify(p, ts)
			var me *MismatchError
			if !errors.As(err, &me) || !errors.Is(err, ErrMismatch) {
				t.Fatalf("Verify = %v, want a MismatchError", err)
			}
			if len(me.Differences) != len(tt.want) {
				t.Fatalf("differences:\n%s\nwant %d", strings.Join(me.Differences, "\n"), len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(me.Differences[i], w) {
					t.Errorf("difference %d = %q, want %q", i, me.Differences[i], w)
				}
			}
		})
	}
	t.Run("nothing installed", func(t *testing.T) {
		ts, _ := targetsOf(p, newFake)
		err := Verify(p, ts)
		if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "IPv6: chain MESHLITE_OUTPUT is missing") {
			t.Fatalf("Verify = %v", err)
		}
	})
}

func TestClassify(t *testing.T) {
	tests := []struct {
		msg  string
		want error
	}{
		{"Another app is currently holding the xtables lock. Stopped waiting after 1s.\n", ErrLockBusy},
		{"iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n", ErrPermission},
		{"Fatal: can't open lock file /run/xtables.lock: Permission denied\n", ErrPermission},
		{"iptables: No chain/target/match by that name.\n", nil},
	}
	for _, tt := range tests {
		err := classify(errors.New(tt.msg))
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("classify(%q) = %v, want %v", tt.msg, err, tt.want)
		}
		if tt.want == nil && (errors.Is(err, ErrLockBusy) || errors.Is(err, ErrPermission)) {
			t.Errorf("classify(%q) = %v, want unclassified", tt.msg, err)
		}
		if strings.HasSuffix(err.Error(), "\n") {
			t.Errorf("classify(%q) keeps the newline", tt.msg)
		}
	}
}
