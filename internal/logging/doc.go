// Package logging builds the zerolog loggers every meshlite binary uses.
//
// A logger is JSON on the given writer, stamped with RFC 3339 times in
// milliseconds, and has a Level whose value can change while the process runs
// (the proxy's admin endpoint /logs/level uses it). Changing the level needs no
// global state: the level lives in the Level value that New returns.
//
//	log, lvl := logging.New(os.Stdout, zerolog.InfoLevel)
//	log.Info().Str("addr", addr).Msg("listening")
//	lvl.Set(zerolog.DebugLevel)
package logging
