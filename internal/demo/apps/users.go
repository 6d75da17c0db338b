package apps

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	demov1 "github.com/meshlite/meshlite/internal/api/demo/v1"
)

// Users is the gRPC user service.
type Users struct {
	demov1.UnimplementedUsersServer
	Version, Replica string
}

// Get answers with a user stamped with this replica.
func (u *Users) Get(_ context.Context, req *demov1.GetUserRequest) (*demov1.User, error) {
	if req.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "users: empty id")
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
