// Package cli is meshctl: one cobra command per file, each with an options
// struct and validate(), writing only to the writers it is given so tests
// can read them.
package cli
