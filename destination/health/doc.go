// Package health decides which endpoints are healthy: active checks the
// destination service runs itself (HTTP, TCP connect, gRPC
// grpc.health.v1), and passive observations proxies report.
//
// A Monitor runs one prober per Target (a service and an endpoint
// address) at the Spec's interval and keeps its state with thresholds:
//
//	m := health.NewMonitor(health.MonitorConfig{OnChange: rebuild})
//	m.Set(map[health.Target]health.Spec{{Service: "web.default", Addr: addr}: spec})
//	ok := m.Healthy(target)
//
// A target starts unhealthy; its first passing check makes it healthy
// (as Envoy does at start-up, whatever HealthyThreshold says). From then
// on it turns unhealthy after UnhealthyThreshold consecutive failures and
// healthy again after HealthyThreshold consecutive passes.
//
// Passive wraps a registry.Source: endpoints that proxies report failing
// leave every service's endpoint set until a healthy report arrives or
// the ejection time passes.
package health
