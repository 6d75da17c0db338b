// Package healthcheck is what `meshctl check` runs: checks as data,
// grouped in categories, run apart from how their results are shown.
//
// A Checker is a description, a hint for when it fails, two flags
// (Warning: a failure is only a warning; Fatal: a failure, not a warning,
// skips the rest of its category) and a func(ctx) error. A Category is a name and its
// checkers, in order. Run runs categories and returns a Result per
// checker; Table, Short and JSON render results. The categories meshlite
// has are built by PreFlight, Identity, Destination and DataPlane, one
// file each, from what they need to reach (plain values and functions),
// so tests can hand them fixed answers.
//
//	cats := []healthcheck.Category{healthcheck.Identity(id), healthcheck.DataPlane(dp)}
//	results := healthcheck.Run(ctx, cats, healthcheck.Options{Timeout: 10 * time.Second}, nil)
//	healthcheck.Table(os.Stdout, results)
//	if !results.Success() { os.Exit(1) }
//
// A check may also return Warn(err), a failure that counts as a warning
// whatever the checker's flag says (something could not be checked), or
// Skip(reason), when the check does not apply: skipped checks are left
// out of the table and listed in JSON.
package healthcheck
