package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// testService is grpc's interop TestService with hooks for the proxy's
// tests: UnaryCall echoes its payload, honours ResponseStatus, sets header
// and trailer metadata, and with payload "slow" reports on started, then
// blocks until its context ends, reporting that end on cancelled.
type testService struct {
	testpb.UnimplementedTestServiceServer
	authority chan string
	started   chan struct{}
	cancelled chan error
}

func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	select {
	case s.authority <- strings.Join(md.Get(":authority"), ","):
	default:
	}
	if string(req.GetPayload().GetBody()) == "slow" {
		s.started <- struct{}{}
		select {
		case <-ctx.Done():
			s.cancelled <- ctx.Err()
			return nil, ctx.Err()
		case <-time.After(10 * time.Second):
			s.cancelled <- nil
			return nil, status.Error(codes.Internal, "the proxy did not cancel the call")
		}
	}
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-header", "h-value")); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t-value", "x-trailer-bin", string([]byte{0, 1, 2, 255}))); err != nil {
		return nil, err
	}
	if st := req.GetResponseStatus(); st != nil {
		return nil, status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

func (s *testService) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// One response per request parameter, each echoing the payload
		// with its index: several messages each way, interleaved.
		for i := range req.GetResponseParameters() {
			body := fmt.Sprintf("%s/%d", req.GetPayload().GetBody(), i)
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(body)}}); err != nil {
				return err
			}
		}
	}
}

// startGRPC serves a testService on loopback until the test ends.
func startGRPC(t *testing.T) (*testService, string) {
	t.Helper()
	ln := listen(t)
	svc := &testService{authority: make(chan string, 16), started: make(chan struct{}, 4), cancelled: make(chan error, 4)}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, svc)
	go s.Serve(ln) //nolint:errcheck // ends with Stop
	t.Cleanup(s.Stop)
	return svc, ln.Addr().String()
}

// grpcClient connects to addr (the proxy) with authority as :authority.
func grpcClient(t *testing.T, addr, authority string) testpb.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority(authority))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testpb.NewTestServiceClient(cc)
}

// TestGRPC runs grpc-go client and server through the outbound listener.
func TestGRPC(t *testing.T) {
	t.Parallel()
	svc, backendAddr := startGRPC(t)
	p := startProxy(t, dstFunc(backendAddr))
	client := grpcClient(t, p.Out, "greeter.test:50051")

	t.Run("unary", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var header, trailer metadata.MD
		resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hello")}},
			grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		if got := string(resp.GetPayload().GetBody()); got != "hello" {
			t.Errorf("payload %q, want hello", got)
		}
		if got := <-svc.authority; got != "greeter.test:50051" {
			t.Errorf("server saw :authority %q, want greeter.test:50051", got)
		}
		if got := header.Get("x-header"); len(got) != 1 || got[0] != "h-value" {
			t.Errorf("header metadata x-header = %q", got)
		}
		if got := trailer.Get("x-trailer"); len(got) != 1 || got[0] != "t-value" {
			t.Errorf("trailer metadata x-trailer = %q", got)
		}
		if got := trailer.Get("x-trailer-bin"); len(got) != 1 || got[0] != string([]byte{0, 1, 2, 255}) {
			t.Errorf("trailer metadata x-trailer-bin = %q", got)
		}
	})

	t.Run("full-duplex", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stream, err := client.FullDuplexCall(ctx)
		if err != nil {
			t.Fatalf("FullDuplexCall: %v", err)
		}
		// Each request waits for its responses before the next is sent,
		// so the two directions interleave over one stream.
		for i := range 5 {
			params := make([]*testpb.ResponseParameters, i+1)
			for j := range params {
				params[j] = &testpb.ResponseParameters{}
			}
			req := &testpb.StreamingOutputCallRequest{ResponseParameters: params, Payload: &testpb.Payload{Body: fmt.Appendf(nil, "m%d", i)}}
			if err := stream.Send(req); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
			for j := range i + 1 {
				resp, err := stream.Recv()
				if err != nil {
					t.Fatalf("Recv %d/%d: %v", i, j, err)
				}
				if got, want := string(resp.GetPayload().GetBody()), fmt.Sprintf("m%d/%d", i, j); got != want {
					t.Errorf("response %q, want %q", got, want)
				}
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Errorf("after CloseSend: %v, want EOF", err)
		}
	})

	t.Run("status", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var trailer metadata.MD
		_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{
			ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "no such greeting: ünïcode % 100"},
		}, grpc.Trailer(&trailer))
		st, _ := status.FromError(err)
		if st.Code() != codes.NotFound || st.Message() != "no such greeting: ünïcode % 100" {
			t.Errorf("got %v %q, want NotFound %q", st.Code(), st.Message(), "no such greeting: ünïcode % 100")
		}
		if got := trailer.Get("x-trailer"); len(got) != 1 || got[0] != "t-value" {
			t.Errorf("trailer metadata with an error status: x-trailer = %q", got)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		const deadline = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		start := time.Now()
		_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("slow")}})
		took := time.Since(start)
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("got %v, want DeadlineExceeded", err)
		}
		if took > deadline+500*time.Millisecond {
			t.Errorf("the call took %v with a %v deadline", took, deadline)
		}
		select {
		case <-svc.started:
		default:
			t.Fatal("the call never reached the server within its deadline")
		}
		select {
		case err := <-svc.cancelled:
			if err == nil {
				t.Error("the server's call was not cancelled")
			}
		case <-time.After(3 * time.Second):
			t.Error("the server's call did not end")
		}
	})

	t.Run("cancel-propagates-reset", func(t *testing.T) {
		// No deadline (so no grpc-timeout the server could act on by
		// itself): only the client's RST_STREAM, forwarded by the proxy,
		// can end the server's call.
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("slow")}})
			errc <- err
		}()
		select {
		case <-svc.started:
		case <-time.After(5 * time.Second):
			cancel()
			t.Fatal("the call never reached the server")
		}
		cancel()
		start := time.Now()
		if err := <-errc; status.Code(err) != codes.Canceled {
			t.Errorf("got %v, want Canceled", err)
		}
		select {
		case err := <-svc.cancelled:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("the server's call ended with %v, want context.Canceled", err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("the server saw the cancellation %v after the client", took)
			}
		case <-time.After(3 * time.Second):
			t.Error("the server's call was not cancelled: RST_STREAM was not propagated")
		}
	})

	t.Run("metrics", func(t *testing.T) {
		mfs := p.metrics(t)
		got := labelValues(mfs, "response_total", "grpc_status")
		for _, want := range []string{"0", "5"} {
			if !got[want] {
				t.Errorf("response_total has no grpc_status=%q; has %v", want, got)
			}
		}
		ok := map[string]string{"direction": "outbound", "authority": "greeter.test:50051", "grpc_status": "0", "classification": "success", "status_code": "200"}
		if v := metricValue(mfs, "response_total", ok); v != 2 {
			t.Errorf("response_total%v = %v, want 2 (unary, full duplex)", ok, v)
		}
		nf := map[string]string{"grpc_status": "5", "classification": "failure", "status_code": "200"}
		if v := metricValue(mfs, "response_total", nf); v != 1 {
			t.Errorf("response_total%v = %v, want 1", nf, v)
		}
		lines := p.waitAccessLog(t, 1, func(l map[string]any) bool { return l["grpc_status"] == "5" })
		if l := lines[0]; l["path"] != "/grpc.testing.TestService/UnaryCall" || l["proto"] != "HTTP/2.0" || l["status"] != 200.0 {
			t.Errorf("access log line of the NotFound call: %v", l)
		}
	})
}

// TestGRPCBackendDown checks that a gRPC client gets UNAVAILABLE with the
// proxy's reason when the endpoint refuses connections.
func TestGRPCBackendDown(t *testing.T) {
	t.Parallel()
	p := startProxy(t, dstFunc(closedPort(t)))
	client := grpcClient(t, p.Out, "down.test:50051")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	st, _ := status.FromError(err)
	if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "connect failed") || !strings.Contains(st.Message(), "connection refused") {
		t.Errorf("got %v %q, want Unavailable with the proxy's reason", st.Code(), st.Message())
	}
	labels := map[string]string{"authority": "down.test:50051", "grpc_status": "14", "classification": "failure"}
	p.waitMetric(t, "response_total", labels, 1)
}
