package server

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/meshlite/meshlite/proxy/authz"
	"github.com/meshlite/meshlite/proxy/conninfo"
)

// InboundPolicy is the workload's current inbound policy, replaced as the
// destination service sends new versions. The zero value allows
// everything, permissively.
type InboundPolicy struct{ p atomic.Pointer[authz.Policy] }

// Load returns the policy in force (nil: allow all).
func (ip *InboundPolicy) Load() *authz.Policy {
	if ip == nil {
		return nil
	}
	return ip.p.Load()
}

// Store puts p in force.
func (ip *InboundPolicy) Store(p *authz.Policy) { ip.p.Store(p) }

// admitConn applies peer authentication to an inbound connection: STRICT
// refuses plaintext, DISABLE refuses mutual TLS.
func (s *Server) admitConn(info *conninfo.Info) (bool, string) {
	switch s.cfg.Inbound.Load().MTLSFor(info.OrigDst.Port()) {
	case authz.ModeStrict:
		if !info.TLS {
			return false, "plaintext refused: peer authentication is STRICT"
		}
	case authz.ModeDisable:
		if info.TLS {
			return false, "mutual TLS refused: peer authentication is DISABLE"
		}
	}
	return true, ""
}

// authorizeTCP applies authorization to an opaque inbound connection.
func (s *Server) authorizeTCP(info *conninfo.Info) (authz.Decision, bool) {
	p := s.cfg.Inbound.Load()
	if !p.Authorizes() {
		return authz.Decision{Allowed: true}, true
	}
	d := p.Authorize(authz.Request{Principal: info.Peer.String(), TLS: info.TLS, Port: info.OrigDst.Port()})
	return d, d.Allowed
}

// authorizeHTTP is the inbound layer that enforces authorization per
// request: the path is normalized (and forwarded normalized), then the
// policies decide. Denied requests get 403 (gRPC: PERMISSION_DENIED).
func (s *Server) authorizeHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := s.cfg.Inbound.Load()
		if !p.Authorizes() {
			next.ServeHTTP(w, r)
			return
		}
		info := conninfo.From(r.Context())
		if err := authz.CheckMethod(r.Method); err != nil {
			s.reject(w, r, http.StatusBadRequest, "bad method: "+err.Error())
			return
		}
		path, err := authz.NormalizePath(r.URL.EscapedPath())
		if err != nil {
			s.reject(w, r, http.StatusBadRequest, "bad path: "+err.Error())
			return
		}
		if path != r.URL.EscapedPath() {
			unescaped, err := url.PathUnescape(path)
			if err != nil {
				s.reject(w, r, http.StatusBadRequest, "bad path: "+err.Error())
				return
			}
			r.URL.Path, r.URL.RawPath = unescaped, path
			if unescaped == path {
				r.URL.RawPath = ""
			}
		}
		req := authz.Request{TLS: info.TLS, Method: r.Method, Path: path, Port: info.OrigDst.Port()}
		if info.TLS {
			req.Principal = info.Peer.String()
		}
		d := p.Authorize(req)
		if hop := conninfo.HopFrom(r.Context()); hop != nil && len(d.Audit) > 0 {
			hop.Audit = strings.Join(d.Audit, ",")
		}
		if !d.Allowed {
			s.cfg.Metrics.AuthzDenied("http", policyLabel(d))
			s.cfg.Log.Info().Str("policy", policyLabel(d)).Str("client_id", req.Principal).
				Str("method", r.Method).Str("path", path).Msg("request denied by authorization policy")
			denyHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// policyLabel names the deciding policy for metrics and logs.
func policyLabel(d authz.Decision) string {
	if d.Policy == "" {
		return "default-deny"
	}
	return d.Policy
}

// denyHTTP answers a denied request as Istio does.
func denyHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "7")
		w.Header().Set("Grpc-Message", "RBAC: access denied")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	w.Write([]byte("RBAC: access denied\n")) //nolint:errcheck // best effort
}

// reject answers a request the proxy refuses as malformed.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, status int, reason string) {
	s.cfg.Metrics.Rejected(string(s.cfg.Direction), status)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(reason + "\n")) //nolint:errcheck // best effort
}
