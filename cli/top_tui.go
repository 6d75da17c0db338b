package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/meshlite/meshlite/internal/stats"
)

// topModel is top's full-screen view: a status line, the table sorted by
// the chosen key, and the keys.
type topModel struct {
	st       *topState
	sort     int // index in stats.SortKeys
	interval time.Duration
	maxRows  int
	width    int
	height   int
}

type topTick struct{}

func (m topModel) tick() tea.Cmd {
	return tea.Tick(m.interval, func(time.Time) tea.Msg { return topTick{} })
}

func (m topModel) Init() tea.Cmd { return m.tick() }

func (m topModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		switch msg.String() {
		case "q", "ctrl+c", "esc":
			return m, tea.Quit
		case "s", "tab", "right":
			m.sort = (m.sort + 1) % len(stats.SortKeys)
		case "S", "shift+tab", "left":
			m.sort = (m.sort + len(stats.SortKeys) - 1) % len(stats.SortKeys)
		}
		return m, nil
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case topTick:
		return m, m.tick()
	}
	return m, nil
}

var (
	topTitle  = lipgloss.NewStyle().Bold(true)
	topHeader = lipgloss.NewStyle().Bold(true).Reverse(true)
	topHelp   = lipgloss.NewStyle().Faint(true)
)

func (m topModel) View() string {
	key := stats.SortKeys[m.sort]
	rows, total := m.st.rows(key)
	limit := m.maxRows
	if m.height > 0 {
		fit := max(m.height-4, 1) // title, header, blank, help
		if limit == 0 || fit < limit {
			limit = fit
		}
	}
	var table strings.Builder
	stats.RenderTop(&table, rows, limit) //nolint:errcheck // a strings.Builder does not fail
	lines := strings.Split(strings.TrimRight(table.String(), "\n"), "\n")
	var b strings.Builder
	b.WriteString(topTitle.Render(fmt.Sprintf("meshctl top — %s, %d requests, sorted by %s", m.st.status(), total, key)))
	b.WriteString("\n")
	for i, l := range lines {
		if m.width > 0 && len(l) > m.width {
			l = l[:m.width]
		}
		if i == 0 {
			l = topHeader.Render(l)
		}
		b.WriteString(l + "\n")
	}
	b.WriteString("\n" + topHelp.Render("s/tab: next sort key  shift+tab: previous  q: quit"))
	return b.String()
}

// runTopUI runs the full-screen view until q, Ctrl-C or ctx is done.
func runTopUI(ctx context.Context, s Streams, st *topState, key stats.SortKey, interval time.Duration, maxRows int) error {
	m := topModel{st: st, interval: interval, maxRows: maxRows}
	for i, k := range stats.SortKeys {
		if k == key {
			m.sort = i
		}
	}
	p := tea.NewProgram(m, tea.WithInput(s.In), tea.WithOutput(s.Out), tea.WithAltScreen(), tea.WithContext(ctx))
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // --duration passed, or SIGTERM
	}
	return err
}
