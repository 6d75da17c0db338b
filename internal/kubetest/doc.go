// Package kubetest runs a real Kubernetes control plane for tests: etcd,
// kube-apiserver and, on request, kube-controller-manager, as child
// processes on 127.0.0.1 with throwaway keys, ports and data. It is for
// tests of code that talks to the Kubernetes API (the destination
// service's Kubernetes backend, the identity service's TokenReview
// attestation, `meshctl inject`/`install` with server-side dry-run) and
// replaces fake clientsets: the server validates, defaults, authorizes and
// signs for real.
//
// The binaries are built once by `make kube-tools` (hack/kube/build.sh,
// about 10 minutes) into ~/.cache/meshlite/bin (or $MESHLITE_TOOLS_DIR,
// $TOOLS_DIR), pinned to KubeVersion and EtcdVersion. Without them Start
// skips the test, except under CI=true, where it fails it.
//
// A cluster has no nodes, kubelets or scheduler. Pods stay Pending until a
// test sets their status through the status subresource, as a kubelet
// would; with Options.ControllerManager the EndpointSlice controller then
// publishes them behind their Services. The API server refuses loopback
// addresses in EndpointSlices and Endpoints: give pods 10.x addresses. The
// admin credentials (RESTConfig, Client, Kubeconfig) are a client
// certificate in system:masters; ServiceAccountToken gets real bound
// tokens from the TokenRequest API, for audiences including
// IdentityAudience, which TokenReview honours.
//
// One cluster per test package keeps tests fast (the API server takes
// seconds to start): use Start in one test with subtests, or Shared across
// the package's tests. Launch is the variant for code that is not a test,
// such as the demo. See docs/kube-testing.md.
package kubetest
