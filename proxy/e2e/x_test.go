package e2e
import (
 _ "google.golang.org/grpc/interop/grpc_testing"
 _ "google.golang.org/grpc"
 _ "github.com/gorilla/websocket"
 _ "github.com/prometheus/common/expfmt"
 _ "golang.org/x/net/http2"
)
