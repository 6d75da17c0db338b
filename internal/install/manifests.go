package install

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshlite/meshlite/identity/ca"
	"github.com/meshlite/meshlite/internal/inject"
)

// part is a run of documents; when inject is set they are injected with
// those options.
type part struct {
	docs   []document
	inject *inject.Options
}

// document is one object with the comment written above it.
type document struct {
	comment string
	obj     any
}

// Where the services find their files.
const (
	issuerMountPath = "/var/run/meshlite.io/identity-issuer"
	// destinationIdentityVolume holds the destination service's own token
	// and anchors, mounted where its --identity-token-file defaults to.
	destinationIdentityVolume = "destination-identity"
)

func (o Options) parts() []part {
	identityInject := o.injectOptions()
	// The identity pod's proxy asks its neighbour for its certificate: no
	// Service or DNS needed, and no await (the neighbour starts after it).
	identityInject.IdentityAddr = "localhost:" + strconv.Itoa(inject.IdentityPort)
	identityInject.Proxy.NoAwait = true
	destinationInject := o.injectOptions()

	return []part{
		{docs: []document{
			{"The control plane's namespace.", o.namespace()},
			{"The trust anchors, for the control plane's proxies (ConfigMap " + inject.DefaultTrustAnchorsConfigMap +
				"):\nthe proxies of other namespaces need the same ConfigMap there, or meshctl inject --trust-anchors.", o.anchorsConfigMap()},
			{"meshlite-identity: the certificate authority. Its issuer and the anchors, as\nthe files of its --dir.", o.issuerSecret()},
			{"", o.serviceAccount(IdentityServiceAccount, "identity")},
			{"It checks proxies' ServiceAccount tokens with the TokenReview API.", o.identityClusterRole()},
			{"", o.clusterRoleBinding(inject.IdentityServiceName, IdentityServiceAccount)},
			{"", o.service(inject.IdentityServiceName, "identity", inject.IdentityPort)},
		}},
		{docs: []document{{"", o.identityDeployment()}}, inject: &identityInject},
		{docs: []document{
			{"meshlite-destination: where services are and which policy applies.", o.serviceAccount(DestinationServiceAccount, "destination")},
			{"It watches Services, EndpointSlices and Pods, and the policy resources.", o.destinationClusterRole()},
			{"", o.clusterRoleBinding(inject.DestinationServiceName, DestinationServiceAccount)},
			{"", o.service(inject.DestinationServiceName, "destination", inject.DestinationPort)},
		}},
		{docs: []document{{"", o.destinationDeployment()}}, inject: &destinationInject},
	}
}

func (o Options) labels(component string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "meshlite-" + component,
		"app.kubernetes.io/component": component,
		"app.kubernetes.io/part-of":   "meshlite",
		"app.kubernetes.io/version":   o.Version,
	}
}

// selector leaves the version out: it must not change on upgrade.
func selector(component string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": "meshlite-" + component, "app.kubernetes.io/part-of": "meshlite"}
}

func (o Options) meta(name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: o.labels(component)}
}

func (o Options) namespace() *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Namespace, Labels: map[string]string{
			"app.kubernetes.io/part-of": "meshlite", inject.LabelControlPlaneNamespace: o.Namespace,
		}},
	}
}

func (o Options) anchorsConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: o.meta(inject.DefaultTrustAnchorsConfigMap, "identity"),
		Data:       map[string]string{inject.TrustAnchorsKey: string(o.Identity.TrustAnchors)},
	}
}

func (o Options) issuerSecret() *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: o.meta(IssuerSecretName, "identity"),
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			ca.AnchorCertFile: o.Identity.TrustAnchors,
			ca.IssuerCertFile: o.Identity.IssuerCert,
			ca.IssuerKeyFile:  o.Identity.IssuerKey,
		},
	}
}

func (o Options) serviceAccount(name, component string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: o.meta(name, component),
	}
}

func (o Options) identityClusterRole() *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: o.clusterName(inject.IdentityServiceName), Labels: o.labels("identity")},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"},
		}},
	}
}

func (o Options) destinationClusterRole() *rbacv1.ClusterRole {
	watch := []string{"get", "list", "watch"}
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: o.clusterName(inject.DestinationServiceName), Labels: o.labels("destination")},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services", "pods"}, Verbs: watch},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: watch},
			{APIGroups: []string{"networking.istio.io"}, Resources: []string{"virtualservices", "destinationrules"}, Verbs: watch},
			{APIGroups: []string{"security.istio.io"}, Resources: []string{"peerauthentications", "authorizationpolicies"}, Verbs: watch},
			{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"httproutes"}, Verbs: watch},
		},
	}
}

// clusterName names a cluster-scoped object: the namespace is part of it
// when it is not the default, so that two control planes do not clash.
func (o Options) clusterName(name string) string {
	if o.Namespace == inject.DefaultControlPlaneNamespace {
		return name
	}
	return name + "-" + o.Namespace
}

func (o Options) clusterRoleBinding(name, serviceAccount string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: o.clusterName(name), Labels: o.labels(name[len("meshlite-"):])},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: o.clusterName(name)},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: serviceAccount, Namespace: o.Namespace}},
	}
}

// service exposes a gRPC port. The services speak TLS themselves, so the
// port's appProtocol tells proxies on the way to relay it as is.
func (o Options) service(name, component string, port int32) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: o.meta(name, component),
		Spec: corev1.ServiceSpec{
			Selector: selector(component),
			Ports: []corev1.ServicePort{{
				Name: "grpc", Port: port, TargetPort: intstr.FromString("grpc"), Protocol: corev1.ProtocolTCP,
				AppProtocol: ptr("tls"),
			}},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// container is a control-plane service's container: non-root, read-only,
// no capabilities, probes on its admin port.
func (o Options) container(name, image string, args []string, grpcPort, adminPort int32) corev1.Container {
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("admin")}}}
	}
	return corev1.Container{
		Name:            name,
		Image:           image,
		ImagePullPolicy: corev1.PullPolicy(o.ImagePullPolicy),
		Args:            args,
		Ports: []corev1.ContainerPort{
			{Name: "grpc", ContainerPort: grpcPort, Protocol: corev1.ProtocolTCP},
			{Name: "admin", ContainerPort: adminPort, Protocol: corev1.ProtocolTCP},
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
		},
		ReadinessProbe:           probe("/ready"),
		LivenessProbe:            probe("/live"),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			RunAsUser:                ptr(int64(ControlPlaneUID)),
			RunAsGroup:               ptr(int64(ControlPlaneUID)),
			RunAsNonRoot:             ptr(true),
			ReadOnlyRootFilesystem:   ptr(true),
			AllowPrivilegeEscalation: ptr(false),
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

func (o Options) deployment(component string, pod corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: o.meta("meshlite-"+component, component),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: selector(component)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: o.labels(component)},
				Spec:       pod,
			},
		},
	}
}

func (o Options) identityDeployment() *appsv1.Deployment {
	args := []string{
		"--trust-domain=" + o.TrustDomain,
		"--dir=" + issuerMountPath,
		"--attest=kubernetes",
		"--kube-audience=" + inject.TokenAudience,
		"--service-namespace=" + o.Namespace,
		"--service-account=" + inject.IdentityServerAccount,
		"--log-level=" + o.LogLevel,
	}
	c := o.container("identity", o.IdentityImage, args, inject.IdentityPort, IdentityAdminPort)
	c.VolumeMounts = []corev1.VolumeMount{{Name: "issuer", MountPath: issuerMountPath, ReadOnly: true}}
	d := o.deployment("identity", corev1.PodSpec{
		ServiceAccountName: IdentityServiceAccount,
		Containers:         []corev1.Container{c},
		Volumes: []corev1.Volume{{Name: "issuer", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: IssuerSecretName},
		}}},
	})
	// Its connections to the API server (TokenReview) go around the mesh.
	d.Spec.Template.Annotations = map[string]string{inject.AnnotationSkipOutboundPorts: "443,6443"}
	return d
}

func (o Options) destinationDeployment() *appsv1.Deployment {
	identityAddr := inject.IdentityServiceName + "." + o.Namespace + ".svc." + o.ClusterDomain + ":" + strconv.Itoa(inject.IdentityPort)
	args := []string{
		"--registry=kubernetes",
		"--trust-domain=" + o.TrustDomain,
		"--cluster-domain=" + o.ClusterDomain,
		"--mesh-port=" + strconv.Itoa(inject.ProxyInboundPort),
		"--identity-addr=" + identityAddr,
		"--identity-trust-anchors=" + inject.IdentityMountPath + "/" + inject.TrustAnchorsFile,
		"--identity-token-file=" + inject.IdentityMountPath + "/" + inject.TokenFile,
		"--identity-namespace=" + o.Namespace,
		"--identity-service-account=" + inject.DestinationServerAccount,
		"--identity-server-id=spiffe://" + o.TrustDomain + "/ns/" + o.Namespace + "/sa/" + inject.IdentityServerAccount,
		"--log-level=" + o.LogLevel,
	}
	c := o.container("destination", o.DestinationImage, args, inject.DestinationPort, DestinationAdminPort)
	c.VolumeMounts = []corev1.VolumeMount{{Name: destinationIdentityVolume, MountPath: inject.IdentityMountPath, ReadOnly: true}}
	d := o.deployment("destination", corev1.PodSpec{
		ServiceAccountName: DestinationServiceAccount,
		Containers:         []corev1.Container{c},
		Volumes: []corev1.Volume{{Name: destinationIdentityVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					Audience: inject.TokenAudience, ExpirationSeconds: ptr(int64(inject.TokenExpirationSeconds)), Path: inject.TokenFile,
				}},
				{ConfigMap: &corev1.ConfigMapProjection{
					LocalObjectReference: corev1.LocalObjectReference{Name: inject.DefaultTrustAnchorsConfigMap},
					Items:                []corev1.KeyToPath{{Key: inject.TrustAnchorsKey, Path: inject.TrustAnchorsFile}},
				}},
			},
		}}}},
	})
	// Its watches on the API server go around the mesh.
	d.Spec.Template.Annotations = map[string]string{inject.AnnotationSkipOutboundPorts: "443,6443"}
	return d
}
