package redirect

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// capNetAdmin is CAP_NET_ADMIN's bit (linux/capability.h).
const capNetAdmin = 12

// CheckNetAdmin returns an error wrapping ErrPermission unless the process
// has CAP_NET_ADMIN in its effective set (/proc/self/status, CapEff).
func CheckNetAdmin() error {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return fmt.Errorf("redirect: read capabilities: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return fmt.Errorf("redirect: parse CapEff %q: %w", v, err)
		}
		if caps&(1<<capNetAdmin) == 0 {
			return fmt.Errorf("%w: CAP_NET_ADMIN is not in the effective capabilities (uid %d); run as root or add NET_ADMIN to the container's capabilities", ErrPermission, os.Geteuid())
		}
		return nil
	}
	return fmt.Errorf("redirect: no CapEff in /proc/self/status: %w", sc.Err())
}
