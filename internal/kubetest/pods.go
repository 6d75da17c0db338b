package kubetest

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeName is the Node that MarkPodRunning binds pods to. No kubelet runs
// behind it; it exists because the EndpointSlice controller skips pods
// whose node it cannot find.
const NodeName = "kubetest-node"

// EnsureNode creates the Node NodeName if it does not exist yet.
func (c *Cluster) EnsureNode(ctx context.Context) error {
	if err := c.checkRunning(); err != nil {
		return err
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:   NodeName,
		Labels: map[string]string{corev1.LabelHostname: NodeName},
	}}
	_, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kubetest: create node %s: %w", NodeName, err)
	}
	return nil
}

// MarkPodRunning does for the existing pod ns/name what the scheduler and
// a kubelet would: it binds the pod to NodeName (EnsureNode) unless it is
// bound already, then reports it through the status subresource as Running
// and Ready with address podIP. podIP must not be a loopback address (the
// API server refuses those in EndpointSlices); use e.g. 10.244.0.5. It
// returns the updated pod.
func (c *Cluster) MarkPodRunning(ctx context.Context, ns, name, podIP string) (*corev1.Pod, error) {
	if err := c.EnsureNode(ctx); err != nil {
		return nil, err
	}
	pods := c.client.CoreV1().Pods(ns)
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubetest: pod %s/%s: %w", ns, name, err)
	}
	if pod.Spec.NodeName == "" {
		binding := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: NodeName},
		}
		if err := pods.Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("kubetest: bind pod %s/%s: %w", ns, name, err)
		}
		if pod, err = pods.Get(ctx, name, metav1.GetOptions{}); err != nil {
			return nil, fmt.Errorf("kubetest: pod %s/%s: %w", ns, name, err)
		}
	}
	now := metav1.Now()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = podIP
	pod.Status.PodIPs = []corev1.PodIP{{IP: podIP}}
	pod.Status.StartTime = &now
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	pod.Status.ContainerStatuses = nil
	for _, ctr := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: ctr.Name, Image: ctr.Image, Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	pod, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("kubetest: update status of pod %s/%s: %w", ns, name, err)
	}
	return pod, nil
}
