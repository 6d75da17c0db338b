// Package flagenv lets every flag of a binary also be set from the
// environment, the way Kubernetes manifests configure containers.
//
// The variable for flag "inbound-addr" with prefix "MESHLITE_PROXY_" is
// MESHLITE_PROXY_INBOUND_ADDR. A flag given on the command line wins over
// the environment, which wins over the default.
package flagenv

import (
	"flag"
	"fmt"
	"strings"
)

// Name returns the environment variable for a flag.
func Name(prefix, flagName string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Apply sets every flag of fs that was not given on the command line from
// its environment variable, if set. fs must already be parsed. getenv is
// os.Getenv in production. An invalid value is an error naming the variable.
func Apply(fs *flag.FlagSet, prefix string, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		env := Name(prefix, f.Name)
		v := getenv(env)
		if v == "" {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("flagenv: %s=%q: %w", env, v, e)
		}
	})
	return err
}
