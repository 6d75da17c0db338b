// Package examples holds sample configurations users can apply as they
// are: the seed document's routing (seed-routing.yaml) and samples of every
// kind meshlite accepts. FS embeds them, for the demo and the tests.
package examples

import "embed"

// FS holds every YAML file of this directory, and of its subdirectories.
//
//go:embed *.yaml
var FS embed.FS
