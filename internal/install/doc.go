// Package install renders the Kubernetes manifests of meshlite's control
// plane, the output of `meshctl install`: the namespace, the trust
// anchors, meshlite-identity (its issuer as a Secret, a Deployment, a
// Service and the RBAC for TokenReview) and meshlite-destination (a
// Deployment, a Service and the RBAC to watch Services, EndpointSlices,
// Pods and the policy resources). Both Deployments get their own proxy,
// injected by package inject. Like inject it is pure: options in, bytes
// and a report out.
//
//	id, err := install.GenerateIdentity("cluster.local", time.Now())
//	out, report, err := install.Render(install.Options{Identity: id})
package install
