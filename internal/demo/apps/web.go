package apps

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	demov1 "github.com/meshlite/meshlite/internal/api/demo/v1"
)

// Web is the HTTP/1.1 frontend.
type Web struct {
	users     demov1.UsersClient
	cacheAddr string
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewWeb connects to the user service at usersAddr (e.g. "user-service:9090")
// and will ask the cache at cacheAddr.
func NewWeb(usersAddr, cacheAddr string) (*Web, *grpc.ClientConn, error) {
	cc, err := grpc.NewClient(usersAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, fmt.Errorf("web: %w", err)
	}
	d := &net.Dialer{Timeout: 2 * time.Second}
	return &Web{users: demov1.NewUsersClient(cc), cacheAddr: cacheAddr, dial: d.DialContext}, cc, nil
}

// Handler routes the frontend's paths.
func (web *Web) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", web.user)
	mux.HandleFunc("GET /cache/{key}", web.cache)
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

func (web *Web) user(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if v := r.Header.Get("X-Version"); v != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "version", v)
	}
	u, err := web.users.Get(ctx, &demov1.GetUserRequest{Id: r.PathValue("id")})
	if err != nil {
		http.Error(w, "users: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{ //nolint:errcheck // the client may be gone
		"id": u.GetId(), "name": u.GetName(), "version": u.GetVersion(), "replica": u.GetReplica(),
	})
}

func (web *Web) cache(w http.ResponseWriter, r *http.Request) {
	v, err := CacheGet(r.Context(), web.dial, web.cacheAddr, r.PathValue("key"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	fmt.Fprintln(w, v)
}
