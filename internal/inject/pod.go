package inject

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// What inject adds to a pod, as Kubernetes API values. Everything here is
// a pure function of the options and the workload's settings.

// sidecar is what one pod gets.
type sidecar struct {
	opts     Options
	s        settings
	jobLike  bool // the pod runs to completion (Job, CronJob, bare Pod)
	embedded bool // trust anchors embedded in an annotation
}

func ptr[T any](v T) *T { return &v }

// initContainer runs meshlite-init: root with NET_ADMIN and NET_RAW only.
func (p sidecar) initContainer() corev1.Container {
	inbound := strconv.Itoa(ProxyAdminPort)
	if p.s.skipIn != "" {
		inbound += "," + p.s.skipIn
	}
	args := []string{
		"--proxy-uid=" + strconv.FormatInt(p.s.uid, 10),
		"--inbound-port=" + strconv.Itoa(ProxyInboundPort),
		"--outbound-port=" + strconv.Itoa(ProxyOutboundPort),
		"--inbound-ports-to-ignore=" + inbound,
	}
	if p.s.skipOut != "" {
		args = append(args, "--outbound-ports-to-ignore="+p.s.skipOut)
	}
	return corev1.Container{
		Name:            InitContainerName,
		Image:           p.opts.InitImage,
		ImagePullPolicy: corev1.PullPolicy(p.opts.ImagePullPolicy),
		Args:            args,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("10Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("50Mi")},
		},
		VolumeMounts:             []corev1.VolumeMount{{Name: XtablesVolumeName, MountPath: "/run"}},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			Capabilities: &corev1.Capabilities{
				Add:  []corev1.Capability{"NET_ADMIN", "NET_RAW"},
				Drop: []corev1.Capability{"ALL"},
			},
			Privileged:               ptr(false),
			RunAsUser:                ptr(int64(0)),
			RunAsNonRoot:             ptr(false),
			ReadOnlyRootFilesystem:   ptr(true),
			AllowPrivilegeEscalation: ptr(false),
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

// proxyContainer runs meshlite-proxy, as a native sidecar unless
// ClassicSidecar.
func (p sidecar) proxyContainer() corev1.Container {
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromInt32(ProxyAdminPort),
		}}}
	}
	startup := probe("/ready")
	if p.s.noAwait {
		startup = probe("/live")
	}
	// Up to two minutes to get a certificate before the kubelet restarts
	// the proxy.
	startup.PeriodSeconds, startup.FailureThreshold = 1, 120
	c := corev1.Container{
		Name:            ProxyContainerName,
		Image:           p.opts.ProxyImage,
		ImagePullPolicy: corev1.PullPolicy(p.opts.ImagePullPolicy),
		Ports: []corev1.ContainerPort{
			{Name: "meshlite-proxy", ContainerPort: ProxyInboundPort, Protocol: corev1.ProtocolTCP},
			{Name: "meshlite-admin", ContainerPort: ProxyAdminPort, Protocol: corev1.ProtocolTCP},
		},
		Env: p.env(),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(p.s.cpuRequest),
				corev1.ResourceMemory: resource.MustParse(p.s.memRequest),
			},
			Limits: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(p.s.cpuLimit),
				corev1.ResourceMemory: resource.MustParse(p.s.memLimit),
			},
		},
		VolumeMounts:             []corev1.VolumeMount{{Name: IdentityVolumeName, MountPath: IdentityMountPath, ReadOnly: true}},
		ReadinessProbe:           probe("/ready"),
		LivenessProbe:            probe("/live"),
		StartupProbe:             startup,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			Privileged:               ptr(false),
			RunAsUser:                ptr(p.s.uid),
			RunAsGroup:               ptr(p.s.uid),
			RunAsNonRoot:             ptr(true),
			ReadOnlyRootFilesystem:   ptr(true),
			AllowPrivilegeEscalation: ptr(false),
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	if !p.opts.ClassicSidecar {
		c.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
	}
	return c
}

// env is the proxy's configuration (docs/proxy.md).
func (p sidecar) env() []corev1.EnvVar {
	o := p.opts
	field := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	serverID := func(sa string) string {
		return "spiffe://" + o.TrustDomain + "/ns/" + o.ControlPlaneNamespace + "/sa/" + sa
	}
	env := []corev1.EnvVar{
		{Name: "MESHLITE_PROXY_LOG_LEVEL", Value: strings.ToLower(p.s.logLevel)},
	}
	if p.s.opaquePorts != "" {
		env = append(env, corev1.EnvVar{Name: "MESHLITE_PROXY_OPAQUE_PORTS", Value: p.s.opaquePorts})
	}
	env = append(env,
		corev1.EnvVar{Name: "MESHLITE_PROXY_IDENTITY_ADDR", Value: o.IdentityAddr},
		corev1.EnvVar{Name: "MESHLITE_PROXY_IDENTITY_SERVER_ID", Value: serverID(IdentityServerAccount)},
		corev1.EnvVar{Name: "MESHLITE_PROXY_IDENTITY_TRUST_DOMAIN", Value: o.TrustDomain},
		corev1.EnvVar{Name: "MESHLITE_PROXY_IDENTITY_TRUST_ANCHORS", Value: IdentityMountPath + "/" + TrustAnchorsFile},
		corev1.EnvVar{Name: "MESHLITE_PROXY_IDENTITY_TOKEN_FILE", Value: IdentityMountPath + "/" + TokenFile},
		field("MESHLITE_PROXY_IDENTITY_NAMESPACE", "metadata.namespace"),
		field("MESHLITE_PROXY_IDENTITY_SERVICE_ACCOUNT", "spec.serviceAccountName"),
		corev1.EnvVar{Name: "MESHLITE_PROXY_DESTINATION_ADDR", Value: o.DestinationAddr},
		corev1.EnvVar{Name: "MESHLITE_PROXY_DESTINATION_SERVER_ID", Value: serverID(DestinationServerAccount)},
	)
	if o.ClassicSidecar && p.jobLike {
		env = append(env, corev1.EnvVar{Name: "MESHLITE_PROXY_SHUTDOWN_ENDPOINT", Value: "true"})
	}
	return append(env,
		field("MESHLITE_POD_NAME", "metadata.name"),
		field("MESHLITE_POD_IP", "status.podIP"),
	)
}

// volumes are the identity volume (token and anchors) and the init
// container's lock directory.
func (p sidecar) volumes() []corev1.Volume {
	anchors := corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
		LocalObjectReference: corev1.LocalObjectReference{Name: p.opts.TrustAnchorsConfigMap},
		Items:                []corev1.KeyToPath{{Key: TrustAnchorsKey, Path: TrustAnchorsFile}},
	}}
	if p.embedded {
		anchors = corev1.VolumeProjection{DownwardAPI: &corev1.DownwardAPIProjection{
			Items: []corev1.DownwardAPIVolumeFile{{
				Path:     TrustAnchorsFile,
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + AnnotationTrustAnchors + "']"},
			}},
		}}
	}
	return []corev1.Volume{
		{Name: IdentityVolumeName, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					Audience: TokenAudience, ExpirationSeconds: ptr(int64(TokenExpirationSeconds)), Path: TokenFile,
				}},
				anchors,
			},
		}}},
		{Name: XtablesVolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
}
