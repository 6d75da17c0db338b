package healthcheck

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Marks shown before each check.
const (
	markSuccess = "√"
	markWarning = "‼"
	markError   = "×"
)

func mark(s Status) string {
	switch s {
	case StatusSuccess:
		return markSuccess
	case StatusWarning:
		return markWarning
	default:
		return markError
	}
}

// Stream renders results as a table while they come: feed it each result
// with Add, then call Done. Table is Stream over finished results.
type Stream struct {
	w     io.Writer
	short bool
	cat   string
	seen  bool
}

// NewStream returns a table renderer; short shows only warnings and
// failures (and the categories holding them).
func NewStream(w io.Writer, short bool) *Stream { return &Stream{w: w, short: short} }

// Add renders one result. Skipped checks are not shown.
func (s *Stream) Add(r Result) {
	if r.Status == StatusSkipped || (s.short && r.Status == StatusSuccess) {
		return
	}
	if r.Category != s.cat || !s.seen {
		if s.seen {
			fmt.Fprintln(s.w)
		}
		fmt.Fprintf(s.w, "%s\n%s\n", r.Category, strings.Repeat("-", len([]rune(r.Category))))
		s.cat, s.seen = r.Category, true
	}
	fmt.Fprintf(s.w, "%s %s\n", mark(r.Status), r.Description)
	if r.Status == StatusSuccess {
		return
	}
	if r.Err != nil {
		for _, line := range strings.Split(strings.TrimRight(r.Err.Error(), "\n"), "\n") {
			fmt.Fprintf(s.w, "    %s\n", line)
		}
	}
	if r.Hint != "" {
		fmt.Fprintf(s.w, "    hint: %s\n", r.Hint)
	}
}

// Done writes the summary line for all results.
func (s *Stream) Done(rs Results) {
	if s.seen {
		fmt.Fprintln(s.w)
	}
	errs, warns := rs.Count(StatusError), rs.Count(StatusWarning)
	status := markSuccess
	if errs > 0 {
		status = markError
	}
	var notes []string
	if errs > 0 {
		notes = append(notes, plural(errs, "failure", "failures"))
	}
	if warns > 0 {
		notes = append(notes, plural(warns, "warning", "warnings"))
	}
	note := ""
	if len(notes) > 0 {
		note = " (" + strings.Join(notes, ", ") + ")"
	}
	fmt.Fprintf(s.w, "Status check results are %s%s\n", status, note)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Table writes every category with each check's mark, what failed and the
// hint, then a summary line: "Status check results are √" or "×".
func Table(w io.Writer, rs Results) {
	s := NewStream(w, false)
	for _, r := range rs {
		s.Add(r)
	}
	s.Done(rs)
}

// Short is Table with only the warnings and failures.
func Short(w io.Writer, rs Results) {
	s := NewStream(w, true)
	for _, r := range rs {
		s.Add(r)
	}
	s.Done(rs)
}

// JSONReport is the JSON form of a run, the shape `linkerd check -o json`
// has.
type JSONReport struct {
	Success    bool           `json:"success"`
	Categories []JSONCategory `json:"categories"`
}

// JSONCategory is one category's checks.
type JSONCategory struct {
	Name   string      `json:"categoryName"`
	Checks []JSONCheck `json:"checks"`
}

// JSONCheck is one check's result; Error holds the reason a check was
// skipped too.
type JSONCheck struct {
	Description string `json:"description"`
	Hint        string `json:"hint,omitempty"`
	Error       string `json:"error,omitempty"`
	Result      Status `json:"result"`
}

// Report is rs as JSONReport.
func Report(rs Results) JSONReport {
	rep := JSONReport{Success: rs.Success(), Categories: []JSONCategory{}}
	for _, r := range rs {
		if n := len(rep.Categories); n == 0 || rep.Categories[n-1].Name != r.Category {
			rep.Categories = append(rep.Categories, JSONCategory{Name: r.Category})
		}
		c := JSONCheck{Description: r.Description, Hint: r.Hint, Result: r.Status}
		if r.Err != nil {
			c.Error = r.Err.Error()
		}
		cat := &rep.Categories[len(rep.Categories)-1]
		cat.Checks = append(cat.Checks, c)
	}
	return rep
}

// JSON writes rs as an indented JSONReport.
func JSON(w io.Writer, rs Results) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Report(rs))
}
