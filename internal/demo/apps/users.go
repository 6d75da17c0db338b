package apps

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	demov1 "github.com/meshlite/meshlite/internal/api/demo/v1"
)

// Users is the gRPC user service.
type Users struct {
	demov1.UnimplementedUsersServer
	Version, Replica string
}

// Get answers with a user stamped with this replica. A request whose
// "version" metadata names another version than this replica's is logged
// as misrouted (the demo's test reads it).
func (u *Users) Get(ctx context.Context, req *demov1.GetUserRequest) (*demov1.User, error) {
	if req.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "users: empty id")
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("version"); len(v) > 0 && v[0] != u.Version {
			fmt.Printf("MISROUTED: a request for %s reached %s (%s)\n", v[0], u.Replica, u.Version)
		}
	}
	if u.Version != "v1" {
		if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("version")) == 0 {
			fmt.Printf("MISROUTED: a request without a version reached %s (%s)\n", u.Replica, u.Version)
		}
	}
	return &demov1.User{Id: req.GetId(), Name: "user-" + req.GetId(), Version: u.Version, Replica: u.Replica}, nil
}

// ServeUsers serves the user service on ln until ctx ends.
func ServeUsers(ctx context.Context, ln net.Listener, u *Users) error {
	s := grpc.NewServer()
	demov1.RegisterUsersServer(s, u)
	go func() { <-ctx.Done(); s.GracefulStop() }()
	if err := s.Serve(ln); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	return nil
}
