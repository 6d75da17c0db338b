// Package compat_test checks what inject and install write against the
// binaries that will read it: meshlite-init's and meshlite-proxy's flags
// for the injected containers, meshlite-identity's and
// meshlite-destination's for install's, and the annotation
// meshlite-destination looks for. It lives apart from the inject and
// install packages because it builds those binaries' packages: while one of
// them is being changed, only this check waits for it.
package compat_test
