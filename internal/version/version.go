// Package version names this build of meshlite. Version is set at build
// time with -ldflags "-X github.com/meshlite/meshlite/internal/version.Version=v0.1.0";
// a build without it reports the module version Go recorded, or "dev".
package version

import "runtime/debug"

// Version is the meshlite version of this build.
var Version = ""

// Get returns the version.
func Get() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
