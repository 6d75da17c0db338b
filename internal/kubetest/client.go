package kubetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceAccountToken returns a token for ServiceAccount ns/sa from the
// TokenRequest API, as the kubelet gets for a projected token volume,
// signed by the cluster's service-account key. audiences empty means the
// API server's own (Issuer); ttl 0 means the server's default (1 h), and
// the server refuses less than 10 minutes. The ServiceAccount must exist.
func (c *Cluster) ServiceAccountToken(ctx context.Context, ns, sa string, audiences []string, ttl time.Duration) (string, error) {
	if err := c.checkRunning(); err != nil {
		return "", err
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences}}
	if ttl > 0 {
		secs := int64(ttl / time.Second)
		req.Spec.ExpirationSeconds = &secs
	}
	resp, err := c.client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("kubetest: token for %s/%s: %w", ns, sa, err)
	}
	return resp.Status.Token, nil
}

// Kubectl runs kubectl against the cluster as admin with stdin (may be
// nil) and returns its standard output. A failure's error carries
// kubectl's standard error.
func (c *Cluster) Kubectl(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	if err := c.checkRunning(); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, c.tools.Kubectl, append([]string{"--kubeconfig=" + c.kubeconfig}, args...)...)
	cmd.Env = childEnv(c.dir)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("kubetest: kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
