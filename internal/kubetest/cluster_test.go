package kubetest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/meshlite/meshlite/internal/kubetest"
)

// TestCluster starts one real control plane (with the controller manager)
// and checks what the mesh's tests rely on, one subtest each.
func TestCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	c := kubetest.Start(ctx, t, kubetest.Options{ControllerManager: true})
	t.Logf("control plane ready in %v at %s", time.Since(start).Round(time.Millisecond), c.URL())

	t.Run("Version", func(t *testing.T) {
		v, err := c.Client().Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if v.GitVersion != kubetest.KubeVersion {
			t.Errorf("server version %q, want %s", v.GitVersion, kubetest.KubeVersion)
		}
	})
	t.Run("TokenReview", func(t *testing.T) { testTokenReview(ctx, t, c) })
	t.Run("EndpointSlice", func(t *testing.T) { testEndpointSlice(ctx, t, c) })
	t.Run("DeploymentCreatesPods", func(t *testing.T) { testDeployment(ctx, t, c) })
	t.Run("KubectlServerDryRun", func(t *testing.T) { testKubectlDryRun(ctx, t, c) })
}

func createNamespace(ctx context.Context, t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

func testTokenReview(ctx context.Context, t *testing.T, c *kubetest.Cluster) {
	cs := c.Client()
	const ns, sa = "tokens", "web"
	createNamespace(ctx, t, cs, ns)
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	identity, err := c.ServiceAccountToken(ctx, ns, sa, []string{kubetest.IdentityAudience}, 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.ServiceAccountToken(ctx, ns, sa, []string{"other.example"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServiceAccountToken(ctx, ns, "nobody", []string{kubetest.IdentityAudience}, 0); !apierrors.IsNotFound(err) {
		t.Errorf("token for a missing ServiceAccount: err = %v, want NotFound", err)
	}

	claims := jwtClaims(t, identity)
	if claims.Iss != kubetest.Issuer || claims.Sub != "system:serviceaccount:"+ns+":"+sa ||
		!slices.Equal(claims.Aud, []string{kubetest.IdentityAudience}) {
		t.Errorf("claims = %+v", claims)
	}
	if got := claims.Exp - claims.Iat; got != int64((20 * time.Minute).Seconds()) {
		t.Errorf("token lifetime %ds, want 1200s", got)
	}

	tests := []struct {
		name      string
		token     string
		audiences []string
		wantAuth  bool
	}{
		{"identity audience", identity, []string{kubetest.IdentityAudience}, true},
		{"server's audiences (identity is one)", identity, nil, true},
		{"other audience asked of identity token", identity, []string{"other.example"}, false},
		{"token for another audience", other, []string{kubetest.IdentityAudience}, false},
		{"garbage", "not-a-token", []string{kubetest.IdentityAudience}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tt.token, Audiences: tt.audiences}}
			got, err := cs.AuthenticationV1().TokenReviews().Create(ctx, tr, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			st := got.Status
			if st.Authenticated != tt.wantAuth {
				t.Fatalf("authenticated = %v (error %q), want %v", st.Authenticated, st.Error, tt.wantAuth)
			}
			if !tt.wantAuth {
				return
			}
			if want := "system:serviceaccount:" + ns + ":" + sa; st.User.Username != want {
				t.Errorf("username %q, want %q", st.User.Username, want)
			}
			if !slices.Contains(st.Audiences, kubetest.IdentityAudience) {
				t.Errorf("audiences %v lack %s", st.Audiences, kubetest.IdentityAudience)
			}
		})
	}
}

type claims struct {
	Iss, Sub string
	Aud      []string
	Iat, Exp int64
}

func jwtClaims(t *testing.T, token string) claims {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func testEndpointSlice(ctx context.Context, t *testing.T, c *kubetest.Cluster) {
	cs := c.Client()
	const ns, podIP = "endpoints", "10.244.0.5"
	createNamespace(ctx, t, cs, ns)
	labels := map[string]string{"app": "web"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "registry.invalid/web:1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Bind it to a node and report it Running and Ready (status
	// subresource), as the scheduler and a kubelet would.
	if _, err := c.MarkPodRunning(ctx, ns, "web-0", podIP); err != nil {
		t.Fatal(err)
	}

	var last string
	err := poll(ctx, 30*time.Second, func() (bool, error) {
		list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return false, err
		}
		last = fmt.Sprintf("%+v", list.Items)
		for _, s := range list.Items {
			for _, ep := range s.Endpoints {
				ready := ep.Conditions.Ready != nil && *ep.Conditions.Ready
				onNode := ep.NodeName != nil && *ep.NodeName == kubetest.NodeName
				if slices.Contains(ep.Addresses, podIP) && ready && onNode && len(s.Ports) == 1 && *s.Ports[0].Port == 8080 {
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no ready endpoint %s:8080 for service web: %v; slices: %s", podIP, err, last)
	}

	// The API server refuses loopback endpoint addresses (docs/kube-testing.md).
	bad := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "loopback", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}}},
	}
	if _, err := cs.DiscoveryV1().EndpointSlices(ns).Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("EndpointSlice with 127.0.0.1: err = %v, want Invalid", err)
	}
}

// poll calls cond every 100 ms until it is true, fails or timeout passes.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: dry-run
spec:
  replicas: %s
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: %s}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        ports: [{containerPort: 8080}]
`

func testKubectlDryRun(ctx context.Context, t *testing.T, c *kubetest.Cluster) {
	createNamespace(ctx, t, c.Client(), "dry-run")
	tests := []struct {
		name     string
		manifest string
		wantErr  string // substring of kubectl's error; "" for success
	}{
		{"valid", fmt.Sprintf(deployment, "2", "web"), ""},
		{"selector does not match labels", fmt.Sprintf(deployment, "2", "other"), "does not match template"},
		{"negative replicas", fmt.Sprintf(deployment, "-1", "web"), "must be greater than or equal to 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.Kubectl(ctx, strings.NewReader(tt.manifest), "apply", "--dry-run=server", "-f", "-")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(out, []byte("deployment.apps/web created (server dry run)")) {
					t.Errorf("kubectl output %q", out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q (output %q)", err, tt.wantErr, out)
			}
		})
	}
	// A dry run stores nothing.
	_, err := c.Client().AppsV1().Deployments("dry-run").Get(ctx, "web", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("deployment after dry run: err = %v, want NotFound", err)
	}
}

func testDeployment(ctx context.Context, t *testing.T, c *kubetest.Cluster) {
	cs := c.Client()
	const ns = "deployments"
	createNamespace(ctx, t, cs, ns)
	labels := map[string]string{"app": "web"}
	replicas := int32(2)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.invalid/web:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var n int
	err := poll(ctx, 30*time.Second, func() (bool, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		n = len(pods.Items)
		return n == int(replicas), nil
	})
	if err != nil {
		t.Fatalf("deployment web has %d pods, want %d: %v", n, replicas, err)
	}
}
