package authz

import (
	"fmt"
	"strings"
)

// PathOptions tunes NormalizePathWith. The zero value is the default
// (Istio's DECODE_AND_MERGE_SLASHES).
type PathOptions struct {
	// KeepEscapedSlashes leaves %2F and %5C encoded (uppercased) instead
	// of decoding them to "/" (Istio's MERGE_SLASHES). Only for
	// applications that give encoded slashes a meaning of their own:
	// such an application must then not decode them into path
	// separators, or a DENY can be bypassed. Default: false.
	KeepEscapedSlashes bool
}

// NormalizePath normalizes the escaped path of a request (without the
// query) with the default options: see NormalizePathWith.
func NormalizePath(raw string) (string, error) { return NormalizePathWith(raw, PathOptions{}) }

// NormalizePathWith returns the normalized form of raw, the escaped path
// of a request (as sent, without the query), or an error wrapping
// ErrInvalidPath (the proxy answers 400). The proxy must forward the path
// it authorized, this one, so that the application cannot read it
// differently from the policy. In order:
//
//  1. Percent-encodings are decoded once (never twice: %252e stays
//     %252E) when they encode an unreserved character (A-Z a-z 0-9 - . _
//     ~) and, unless KeepEscapedSlashes, a slash or backslash (%2F, %5C).
//     Other encodings are kept, with uppercase hex. An encoding that is
//     not % and two hex digits, and %00, are errors.
//  2. A backslash becomes a slash.
//  3. Bytes that may not appear in a path (space, quotes, <>, ^, `, {|},
//     #, ?, [, ], non-ASCII) are percent-encoded; control characters
//     are errors.
//  4. Runs of slashes are merged into one.
//  5. "." and ".." segments are resolved (RFC 3986 §5.2.4); ".." never
//     climbs above the root.
//
// Case is kept: /ADMIN and /admin are different paths. The empty path is
// "/"; one that does not start with "/" (or "\") is an error (CONNECT and
// "OPTIONS *" have no path to normalize). The result is idempotent and
// never contains "//", or a "." or ".." segment. A path that needs no
// change is returned without allocating.
func NormalizePathWith(raw string, opts PathOptions) (string, error) {
	if raw == "" {
		return "/", nil
	}
	if raw[0] != '/' && raw[0] != '\\' {
		return "", fmt.Errorf("%w: %q does not start with /", ErrInvalidPath, clip(raw))
	}
	if clean(raw) {
		return raw, nil
	}
	dec, err := decode(raw, !opts.KeepEscapedSlashes)
	if err != nil {
		return "", err
	}
	return resolve(dec), nil
}

// clean reports whether raw is already normalized: only plain path bytes,
// no escapes, no backslash, no empty, "." or ".." segment.
func clean(raw string) bool {
	segStart := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '/' {
			if i > 0 && dotSegment(raw[segStart:i]) {
				return false
			}
			if i+1 < len(raw) && raw[i+1] == '/' {
				return false
			}
			segStart = i + 1
			continue
		}
		if pathByte[c] != plain {
			return false
		}
	}
	return !dotSegment(raw[segStart:])
}

func dotSegment(s string) bool { return s == "." || s == ".." }

// Byte classes in a path.
const (
	bad    = iota // control characters: an error
	plain         // allowed as is
	encode        // to be percent-encoded
)

var pathByte = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c < 0x20 || c == 0x7f:
			t[c] = bad
		case c >= 0x80:
			t[c] = encode
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			t[c] = plain
		case strings.IndexByte("-._~!$&'()*+,;=:@/", byte(c)) >= 0:
			t[c] = plain
		default: // space " # % < > ? [ \ ] ^ ` { | }
			t[c] = encode
		}
	}
	return t
}()

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

const upperHex = "0123456789ABCDEF"

// decode performs steps 1 to 3.
func decode(raw string, slashes bool) (string, error) {
	var b strings.Builder
	b.Grow(len(raw) + 8)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return "", fmt.Errorf("%w: bad percent-encoding in %q", ErrInvalidPath, clip(raw))
			}
			v := unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
			switch {
			case v == 0:
				return "", fmt.Errorf("%w: %%00 in %q", ErrInvalidPath, clip(raw))
			case unreserved(v):
				b.WriteByte(v)
			case slashes && (v == '/' || v == '\\'):
				b.WriteByte('/')
			default:
				b.WriteByte('%')
				b.WriteByte(upperHex[v>>4])
				b.WriteByte(upperHex[v&15])
			}
		case c == '\\':
			b.WriteByte('/')
		case pathByte[c] == plain:
			b.WriteByte(c)
		case pathByte[c] == encode:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		default:
			return "", fmt.Errorf("%w: control character %#x in %q", ErrInvalidPath, c, clip(raw))
		}
	}
	return b.String(), nil
}

// resolve performs steps 4 and 5 on a decoded path starting with "/".
func resolve(p string) string {
	segs := make([]string, 0, strings.Count(p, "/"))
	trailing := false
	for s := range strings.SplitSeq(p[1:], "/") {
		trailing = false
		switch s {
		case "":
			trailing = true
		case ".":
			trailing = true
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			trailing = true
		default:
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		return "/"
	}
	out := "/" + strings.Join(segs, "/")
	if trailing {
		out += "/"
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// clip shortens a path quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
