package e2e

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// h2specReport is the part of h2spec's JUnit report the test reads.
type h2specReport struct {
	Suites []struct {
		Package string `xml:"package,attr"`
		Cases   []struct {
			Package string    `xml:"package,attr"`
			Name    string    `xml:"classname,attr"`
			Error   *struct{} `xml:"error"`
			Failure *struct{} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// h2specResult is one h2spec test case, named as h2spec's command line
// names it: "<section>/<n>", e.g. "http2/6.9.1/3".
type h2specResult struct {
	ID, Name        string
	Failed, Skipped bool
}

// parseH2specReport lists the test cases of a JUnit report in order.
func parseH2specReport(r io.Reader) ([]h2specResult, error) {
	var rep h2specReport
	if err := xml.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("h2spec report: %w", err)
	}
	var out []h2specResult
	for _, s := range rep.Suites {
		for i, c := range s.Cases {
			out = append(out, h2specResult{
				ID:      fmt.Sprintf("%s/%d", s.Package, i+1),
				Name:    c.Name,
				Failed:  c.Error != nil || c.Failure != nil,
				Skipped: c.Skipped != nil,
			})
		}
	}
	return out, nil
}

// readKnownFailures reads the pinned failure list: one test id per line,
// anything after '#' is the reason.
func readKnownFailures(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		id, why, _ := strings.Cut(line, "#")
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if strings.TrimSpace(why) == "" {
			t.Errorf("%s: %s has no '# reason'", path, id)
		}
		known[id] = strings.TrimSpace(why)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return known
}

// TestH2Spec runs h2spec's conformance suite against the inbound listener,
// in front of a Go h2c application. Failures must be exactly the ones
// pinned, with their reasons, in testdata/h2spec-known-failures.txt.
func TestH2Spec(t *testing.T) {
	t.Parallel()
	bin := needTool(t, filepath.Join(toolsDir(), "h2spec"))
	be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // h2spec sends what it likes
		io.WriteString(w, "ok\n")   //nolint:errcheck // best effort
	}), true)
	p := startProxy(t, inboundDst(be.Addr), func(c *appConfig) { c.AccessLog = false })
	_, port, _ := net.SplitHostPort(p.In)

	report := filepath.Join(t.TempDir(), "h2spec.xml")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-h", "127.0.0.1", "-p", port, "-j", report, "-o", "2")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("h2spec did not finish: %v\n%s", ctx.Err(), out)
	}
	// h2spec exits non-zero when any case fails; the report decides.
	f, ferr := os.Open(report)
	if ferr != nil {
		t.Fatalf("h2spec wrote no report (%v): %v\n%s", err, ferr, out)
	}
	defer f.Close()
	results, err := parseH2specReport(f)
	if err != nil {
		t.Fatal(err)
	}
	known := readKnownFailures(t, filepath.Join("testdata", "h2spec-known-failures.txt"))

	passed, skipped := 0, 0
	seen := map[string]bool{}
	var unexpected, fixed []string
	for _, r := range results {
		seen[r.ID] = true
		switch {
		case r.Skipped:
			skipped++
		case r.Failed:
			if _, ok := known[r.ID]; !ok {
				unexpected = append(unexpected, r.ID+" "+r.Name)
			}
		default:
			passed++
			if _, ok := known[r.ID]; ok {
				fixed = append(fixed, r.ID+" "+r.Name)
			}
		}
	}
	for id := range known {
		if !seen[id] {
			fixed = append(fixed, id+" (not in the report)")
		}
	}
	slices.Sort(fixed)
	t.Logf("h2spec: %d cases, %d passed, %d skipped, %d failed", len(results), passed, skipped, len(results)-passed-skipped)
	if len(unexpected) > 0 {
		t.Errorf("h2spec cases failed that are not pinned as known failures:\n  %s\nh2spec output:\n%s",
			strings.Join(unexpected, "\n  "), out)
	}
	if len(fixed) > 0 {
		t.Errorf("pinned h2spec failures that no longer fail; remove them from testdata/h2spec-known-failures.txt:\n  %s",
			strings.Join(fixed, "\n  "))
	}
}
