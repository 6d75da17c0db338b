package authz

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "/"},
		{"/", "/"},
		{"/admin", "/admin"},
		{"/admin/", "/admin/"},
		{"/ADMIN", "/ADMIN"},
		{"/admin/../admin", "/admin"},
		{"//admin", "/admin"},
		{"///admin//x//", "/admin/x/"},
		{"/%2e%2e/admin", "/admin"},
		{"/%2E%2E/admin", "/admin"},
		{"/.%2e/admin", "/admin"},
		{"/%2e/admin", "/admin"},
		{"/admin%2F..", "/"},
		{"/admin%2f..%2f", "/"},
		{"/public/..%2Fadmin", "/admin"},
		{"/public%2F..%2Fadmin", "/admin"},
		{"/public%5C..%5Cadmin", "/admin"},
		{`/public\..\admin`, "/admin"},
		{`\admin`, "/admin"},
		{"/%2fadmin", "/admin"},
		{"/a/./b", "/a/b"},
		{"/a/b/..", "/a/"},
		{"/a/b/../", "/a/"},
		{"/a/.", "/a/"},
		{"/./", "/"},
		{"/..", "/"},
		{"/../../etc/passwd", "/etc/passwd"},
		{"/a/.../b", "/a/.../b"},
		{"/a/..b/c", "/a/..b/c"},
		{"/%61%64%6d%69%6e", "/admin"},
		{"/%41DMIN", "/ADMIN"},
		{"/%2d%5f%7e%30", "/-_~0"},
		{"/a%2a", "/a%2A"},
		{"/a%20b", "/a%20b"},
		{"/%252e%252e/admin", "/%252e%252e/admin"},
		{"/%25", "/%25"},
		{"/a b", "/a%20b"},
		{"/café", "/caf%C3%A9"},
		{"/a#b", "/a%23b"},
		{"/a?b", "/a%3Fb"},
		{"/a|b{c}", "/a%7Cb%7Bc%7D"},
		{"/a;b=c/../d", "/d"},
		{"/a:b@c!$&'()*+,;=", "/a:b@c!$&'()*+,;="},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizePath(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("NormalizePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			again, err := NormalizePath(got)
			if err != nil || again != got {
				t.Fatalf("not idempotent: %q -> %q, %v", got, again, err)
			}
		})
	}
}

func TestNormalizePathKeepEscapedSlashes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/admin%2F..", "/admin%2F.."},
		{"/admin%2f..", "/admin%2F.."},
		{"/a%5cb", "/a%5Cb"},
		{"/a%2F%2e%2e/b", "/a%2F../b"},
		{"//a/../b", "/b"},
		{`/a\b`, "/a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizePathWith(tt.in, PathOptions{KeepEscapedSlashes: true})
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestNormalizePathErrors(t *testing.T) {
	for _, in := range []string{
		"admin", "*", "a/b", "/a%00b", "/a%zz", "/a%2", "/a%", "/%", "/a%0g",
		"/a\x00", "/a\tb", "/a\nb", "/a\x7f", "/a\rb",
	} {
		t.Run(in, func(t *testing.T) {
			got, err := NormalizePath(in)
			if !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("NormalizePath(%q) = %q, %v; want ErrInvalidPath", in, got, err)
			}
		})
	}
}

func TestNormalizePathNoAllocWhenClean(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := NormalizePath("/api/v1/users/42"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations for a clean path", allocs)
	}
}

// checkNormalized asserts the invariants of a normalized path.
func checkNormalized(t *testing.T, in, out string, keep bool) {
	t.Helper()
	if !strings.HasPrefix(out, "/") {
		t.Fatalf("%q -> %q: does not start with /", in, out)
	}
	for _, bad := range []string{"//", "/./", "/../", `\`} {
		if strings.Contains(out, bad) {
			t.Fatalf("%q -> %q: contains %q", in, out, bad)
		}
	}
	if strings.HasSuffix(out, "/.") || strings.HasSuffix(out, "/..") {
		t.Fatalf("%q -> %q: ends with a dot segment", in, out)
	}
	for i := 0; i < len(out); i++ {
		c := out[i]
		if c == '%' {
			if i+2 >= len(out) || !isHex(out[i+1]) || !isHex(out[i+2]) {
				t.Fatalf("%q -> %q: bad escape", in, out)
			}
			v := unhex(out[i+1])<<4 | unhex(out[i+2])
			if unreserved(v) || (!keep && (v == '/' || v == '\\')) || strings.ToUpper(out[i+1:i+3]) != out[i+1:i+3] {
				t.Fatalf("%q -> %q: escape %s should have been decoded or uppercased", in, out, out[i:i+3])
			}
			i += 2
			continue
		}
		if pathByte[c] != plain {
			t.Fatalf("%q -> %q: raw byte %#x", in, out, c)
		}
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{
		"/", "/admin/../admin", "//admin", "/%2e%2e/admin", "/admin%2F..", `\a\..\b`,
		"/a/./b/../c//", "/%252e", "/%", "/%00", "/café", "/a?b#c", "/.%2E/%2E.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, keep := range []bool{false, true} {
			opts := PathOptions{KeepEscapedSlashes: keep}
			out, err := NormalizePathWith(in, opts)
			if err != nil {
				if !errors.Is(err, ErrInvalidPath) {
					t.Fatalf("%q: error %v does not wrap ErrInvalidPath", in, err)
				}
				continue
			}
			checkNormalized(t, in, out, keep)
			again, err := NormalizePathWith(out, opts)
			if err != nil || again != out {
				t.Fatalf("not idempotent (keep=%v): %q -> %q -> %q, %v", keep, in, out, again, err)
			}
		}
	})
}

func BenchmarkNormalizePath(b *testing.B) {
	for _, p := range []string{"/api/v1/users/42", "/api//v1/./users/%2e%2e/42"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NormalizePath(p)
			}
		})
	}
}

func TestCheckMethod(t *testing.T) {
	for _, m := range []string{"GET", "DELETE", "PROPFIND", "M-SEARCH", "X_Y", "POST1"} {
		if err := CheckMethod(m); err != nil {
			t.Errorf("CheckMethod(%q) = %v", m, err)
		}
	}
	for _, m := range []string{"", "get", "Delete", "GET ", "G\x00T", "PO ST"} {
		if err := CheckMethod(m); !errors.Is(err, ErrInvalidMethod) {
			t.Errorf("CheckMethod(%q) = %v, want ErrInvalidMethod", m, err)
		}
	}
}
