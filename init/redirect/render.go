package redirect

import (
	"fmt"
	"strings"
)

// noQuote are the characters iptables-save prints without quotes
// (xtables_save_string).
const noQuote = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// quote renders a string argument as iptables-save does: bare when it is
// made of letters, digits, '-' and '_' only, else in double quotes, with
// each double quote, single quote and backslash escaped by a backslash.
func quote(s string) string {
	if s != "" && strings.Trim(s, noQuote) == "" {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' || c == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// splitArgs splits a line of iptables -S or iptables-save output into its
// arguments, undoing quote.
func splitArgs(line string) ([]string, error) {
	var (
		args   []string
		cur    strings.Builder
		inArg  bool
		quoted bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case quoted && c == '"':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case c == '"':
			quoted, inArg = true, true
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

// parseRule parses an "-A CHAIN spec..." line of iptables -S.
func parseRule(line string) (Rule, error) {
	args, err := splitArgs(line)
	if err != nil {
		return Rule{}, err
	}
	if len(args) < 2 || args[0] != "-A" {
		return Rule{}, fmt.Errorf("not a rule: %q", line)
	}
	return Rule{Chain: args[1], Spec: args[2:]}, nil
}
