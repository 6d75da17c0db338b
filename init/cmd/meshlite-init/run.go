package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/meshlite/meshlite/init/redirect"
	"github.com/meshlite/meshlite/internal/flagenv"
)

// EnvPrefix prefixes the environment variable of every flag.
const EnvPrefix = "MESHLITE_INIT_"

// Exit codes, documented in docs/init.md.
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitPermission = 3
	exitLockBusy   = 4
	exitMismatch   = 5
)

// usageError is a bad flag, environment variable or combination.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// exitCode maps run's error to the process's exit status.
func exitCode(err error) int {
	var u usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &u):
		return exitUsage
	case errors.Is(err, redirect.ErrPermission):
		return exitPermission
	case errors.Is(err, redirect.ErrLockBusy):
		return exitLockBusy
	case errors.Is(err, redirect.ErrMismatch):
		return exitMismatch
	default:
		return exitFailure
	}
}

// options are meshlite-init's flags: the plan's and how to run it.
type options struct {
	plan     redirect.Options
	mode     string        // auto
	lockWait time.Duration // 10s per iptables command
	dryRun   bool
	verify   bool
	remove   bool
}

func (o *options) register(fs *flag.FlagSet) {
	o.plan.RegisterFlags(fs)
	fs.StringVar(&o.mode, "mode", o.mode, "iptables backend: legacy, nft or auto (the one the host already uses)")
	fs.DurationVar(&o.lockWait, "lock-wait", o.lockWait, "how long each iptables command waits for the xtables lock (whole seconds, rounded up)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the rules in iptables-save syntax and change nothing")
	fs.BoolVar(&o.verify, "verify", false, "check that the rules in place match the plan; exit 5 naming each difference if not")
	fs.BoolVar(&o.remove, "remove", false, "delete every rule and chain meshlite added, and nothing else")
}

// validate checks what the plan's own validation does not.
func (o *options) validate() error {
	var errs []error
	if _, err := redirect.ParseMode(o.mode); err != nil {
		errs = append(errs, fmt.Errorf("--mode: %w", err))
	}
	if o.lockWait <= 0 {
		errs = append(errs, fmt.Errorf("--lock-wait: must be positive, got %v", o.lockWait))
	}
	n := 0
	for _, b := range []bool{o.dryRun, o.verify, o.remove} {
		if b {
			n++
		}
	}
	if n > 1 {
		errs = append(errs, errors.New("--dry-run, --verify and --remove exclude each other"))
	}
	return errors.Join(errs...)
}

// printUsage writes the help text and the flags.
func printUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, `Usage: meshlite-init [flags]

Redirects the pod's TCP traffic through meshlite-proxy with iptables (nat
table, IPv4 and IPv6): incoming connections to the inbound port, outgoing
ones to the outbound port. Every flag can also be set as an environment
variable %s<FLAG> (e.g. %sPROXY_UID); a flag on the
command line wins.

Exit codes: 0 ok, 1 failure, 2 bad usage, 3 no NET_ADMIN, 4 xtables lock
busy, 5 --verify found differences. See docs/init.md.

Flags:
`, EnvPrefix, EnvPrefix)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := options{plan: redirect.DefaultOptions(), mode: string(redirect.Auto), lockWait: 10 * time.Second}
	fs := flag.NewFlagSet("meshlite-init", flag.ContinueOnError)
	o.register(fs)
	// Parse quietly: main prints the error once, and -h the usage.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, stderr)
			return err
		}
		return usageError{fmt.Errorf("%w (meshlite-init -h lists the flags)", err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %q", fs.Args())}
	}
	if err := flagenv.Apply(fs, EnvPrefix, os.Getenv); err != nil {
		return usageError{err}
	}
	if err := errors.Join(o.plan.Validate(), o.validate()); err != nil {
		return usageError{err}
	}
	if o.dryRun {
		plan, err := redirect.NewPlan(o.plan)
		if err != nil {
			return usageError{err}
		}
		_, err = io.WriteString(stdout, plan.String())
		return err
	}
	return execute(ctx, o, stdout, stderr)
}

// execute applies, verifies or removes the rules.
func execute(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if err := redirect.CheckNetAdmin(); err != nil {
		return err
	}
	if o.plan.IPv6 && !ipv6Available() {
		fmt.Fprintln(stderr, "meshlite-init: warning: the kernel has no IPv6 (/proc/net/if_inet6 is missing): IPv4 only (--ipv6=false silences this)")
		o.plan.IPv6 = false
	}
	plan, err := redirect.NewPlan(o.plan)
	if err != nil {
		return usageError{err}
	}
	mode, _ := redirect.ParseMode(o.mode)
	if mode == redirect.Auto {
		d := redirect.Detect(ctx, o.plan.IPv6)
		if mode, err = redirect.ChooseMode(d); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "meshlite-init: mode %s (auto: legacy has %d rules, %d of them meshlite's; nft %d, %d; iptables is nft-based: %t)\n",
			mode, d.Legacy.Rules, d.Legacy.Meshlite, d.NFT.Rules, d.NFT.Meshlite, d.DefaultNFT)
	}
	var targets []redirect.Target
	for _, fp := range plan.Families {
		t, err := redirect.Open(ctx, mode, fp.Family, o.lockWait)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	switch {
	case o.verify:
		if err := redirect.Verify(plan, targets); err != nil {
			return err
		}
		for _, t := range targets {
			fmt.Fprintf(stdout, "meshlite-init: %s (%s): the rules in place match the plan\n", t.Family, t.Path)
		}
		return nil
	case o.remove:
		res, err := redirect.Remove(targets)
		report(stdout, targets, res, "removed", "nothing to remove")
		return err
	default:
		res, err := redirect.Apply(plan, targets)
		if errors.Is(err, redirect.ErrConflict) {
			err = fmt.Errorf("%w\nrun meshlite-init --remove first to replace them", err)
		}
		report(stdout, targets, res, "added", "the rules are already in place")
		return err
	}
}

// report prints one line per family of what Apply or Remove did.
func report(w io.Writer, targets []redirect.Target, res []redirect.Outcome, verb, unchanged string) {
	for _, r := range res {
		path := ""
		for _, t := range targets {
			if t.Family == r.Family {
				path = t.Path
			}
		}
		if r.Chains == 0 && r.Rules == 0 {
			fmt.Fprintf(w, "meshlite-init: %s (%s): %s\n", r.Family, path, unchanged)
			continue
		}
		fmt.Fprintf(w, "meshlite-init: %s (%s): %s %d chains and %d rules\n", r.Family, path, verb, r.Chains, r.Rules)
	}
}

// ipv6Available reports whether the kernel has IPv6.
func ipv6Available() bool {
	_, err := os.Stat("/proc/net/if_inet6")
	return err == nil
}
