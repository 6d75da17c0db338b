package redirect

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"time"

	"github.com/coreos/go-iptables/iptables"
)

// Mode is the iptables backend: the legacy x_tables or nf_tables.
type Mode string

// The modes. Auto is resolved with Detect and ChooseMode.
const (
	Legacy Mode = "legacy"
	NFT    Mode = "nft"
	Auto   Mode = "auto"
)

// ParseMode parses "legacy", "nft" or "auto".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Legacy, NFT, Auto:
		return m, nil
	}
	return "", fmt.Errorf("%q is not a mode (legacy, nft or auto)", s)
}

// Backend is what Detect saw of one backend.
type Backend struct {
	// Found: its iptables binary is on PATH.
	Found bool
	// Rules is how many rules its save commands print, all tables, IPv4
	// and (when asked) IPv6.
	Rules int
	// Meshlite is how many of them are meshlite's.
	Meshlite int
}

// Detection is what ChooseMode decides on.
type Detection struct {
	Legacy, NFT Backend
	// DefaultNFT: the plain "iptables" binary reports nf_tables.
	DefaultNFT bool
}

// ChooseMode picks the backend for auto mode: the only one found; else the
// only one that holds meshlite rules (so --verify and --remove find them);
// else the one that has rules when the other has none (the host already
// uses it); else nft when the plain iptables binary is nft-based, legacy
// otherwise. It fails with ErrNoIptables when neither is found.
func ChooseMode(d Detection) (Mode, error) {
	switch {
	case !d.Legacy.Found && !d.NFT.Found:
		return "", fmt.Errorf("%w: neither iptables-legacy nor iptables-nft (nor a plain iptables) is on PATH (Debian: apt-get install iptables)", ErrNoIptables)
	case !d.NFT.Found:
		return Legacy, nil
	case !d.Legacy.Found:
		return NFT, nil
	case d.Legacy.Meshlite > 0 && d.NFT.Meshlite == 0:
		return Legacy, nil
	case d.NFT.Meshlite > 0 && d.Legacy.Meshlite == 0:
		return NFT, nil
	case d.Legacy.Rules > 0 && d.NFT.Rules == 0:
		return Legacy, nil
	case d.NFT.Rules > 0 && d.Legacy.Rules == 0:
		return NFT, nil
	case d.DefaultNFT:
		return NFT, nil
	default:
		return Legacy, nil
	}
}

// Detect looks at the host for ChooseMode: which backends' binaries exist,
// how many rules <cmd>-legacy-save and <cmd>-nft-save print (IPv6 too when
// ipv6), and what the plain iptables reports. A save command that fails
// counts as no rules.
func Detect(ctx context.Context, ipv6 bool) Detection {
	fams := []Family{IPv4}
	if ipv6 {
		fams = append(fams, IPv6)
	}
	var d Detection
	for _, b := range []struct {
		mode Mode
		be   *Backend
	}{{Legacy, &d.Legacy}, {NFT, &d.NFT}} {
		for _, f := range fams {
			path, err := binary(ctx, b.mode, f)
			if err != nil {
				continue
			}
			if f == IPv4 {
				b.be.Found = true
			}
			out, err := exec.CommandContext(ctx, path+"-save").Output()
			if err == nil {
				all, ours := countRules(out)
				b.be.Rules += all
				b.be.Meshlite += ours
			}
		}
	}
	if p, err := exec.LookPath("iptables"); err == nil {
		d.DefaultNFT = versionMode(ctx, p) == NFT
	}
	return d
}

// countRules counts the rules ("-A" lines) of iptables-save output, and
// those of them that are meshlite's.
func countRules(save []byte) (all, meshlite int) {
	sc := bufio.NewScanner(bytes.NewReader(save))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "-A ") {
			continue
		}
		all++
		if r, err := parseRule(sc.Text()); err == nil && r.Purpose() != "" {
			meshlite++
		}
	}
	return all, meshlite
}

// binary finds the iptables binary of mode for f: "<cmd>-<mode>", or the
// plain "<cmd>" when it reports that mode.
func binary(ctx context.Context, mode Mode, f Family) (string, error) {
	if p, err := exec.LookPath(f.Command() + "-" + string(mode)); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath(f.Command()); err == nil && versionMode(ctx, p) == mode {
		return p, nil
	}
	return "", fmt.Errorf("%w: mode %s: neither %s-%s nor a %s in %s mode is on PATH (Debian: apt-get install iptables)",
		ErrNoIptables, mode, f.Command(), mode, f.Command(), mode)
}

// versionMode runs "<path> --version": "(nf_tables)" is nft, anything else
// legacy; "" when it does not run.
func versionMode(ctx context.Context, path string) Mode {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return ""
	}
	if bytes.Contains(out, []byte("nf_tables")) {
		return NFT
	}
	return Legacy
}

// Open returns the target for family f in mode (legacy or nft). Each
// iptables command it runs waits at most lockWait, rounded up to whole
// seconds (at least one), for the xtables lock.
func Open(ctx context.Context, mode Mode, f Family, lockWait time.Duration) (Target, error) {
	if mode != Legacy && mode != NFT {
		return Target{}, fmt.Errorf("redirect: open: mode %q is neither legacy nor nft", mode)
	}
	path, err := binary(ctx, mode, f)
	if err != nil {
		return Target{}, err
	}
	proto := iptables.ProtocolIPv4
	if f == IPv6 {
		proto = iptables.ProtocolIPv6
	}
	ipt, err := iptables.New(iptables.Path(path), iptables.IPFamily(proto), iptables.Timeout(lockSeconds(lockWait)))
	if err != nil {
		return Target{}, fmt.Errorf("redirect: %s: %w", path, err)
	}
	return Target{Family: f, Path: path, Tables: ipt}, nil
}

// lockSeconds rounds the lock wait up to whole seconds, at least 1: 0
// would make iptables wait forever.
func lockSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

var _ Tables = (*iptables.IPTables)(nil)
