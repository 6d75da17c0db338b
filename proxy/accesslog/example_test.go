package accesslog_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/rs/zerolog"

	"github.com/meshlite/meshlite/proxy/accesslog"
)

func Example() {
	ring := accesslog.NewRing(10000)
	enabled := func(zerolog.Level) bool { return false } // stdout is quiet here
	access := zerolog.New(accesslog.Tee(os.Stdout, enabled, ring)).With().Str("log", "access").Logger()
	access.Info().Str("method", "GET").Int("status", 503).Str("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736").Send()
	access.Info().Str("method", "GET").Int("status", 200).Send()

	rec := httptest.NewRecorder()
	accesslog.Handler(accesslog.HandlerConfig{Ring: ring}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/logs?status=5xx", nil))
	fmt.Print(rec.Body)
	// Output: {"level":"info","log":"access","method":"GET","status":503,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}
}
