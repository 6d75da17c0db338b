package kubetest

import (
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// adminRESTConfig is the system:masters client configuration for c.url.
// Its rate limit is raised well above client-go's default (5 QPS), which
// would make tests wait on themselves.
func (c *Cluster) adminRESTConfig() *rest.Config {
	return &rest.Config{
		Host: c.url,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.pki.caPEM,
			CertData: c.pki.adminCertPEM,
			KeyData:  c.pki.adminKeyPEM,
		},
		QPS:       200,
		Burst:     400,
		UserAgent: "meshlite-kubetest",
	}
}

// writeKubeconfig writes a self-contained admin kubeconfig (certificates
// embedded) for c.url to path.
func (c *Cluster) writeKubeconfig(path string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubetest"] = &clientcmdapi.Cluster{
		Server:                   c.url,
		CertificateAuthorityData: c.pki.caPEM,
	}
	cfg.AuthInfos["kubetest-admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: c.pki.adminCertPEM,
		ClientKeyData:         c.pki.adminKeyPEM,
	}
	cfg.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: "kubetest-admin", Namespace: "default"}
	cfg.CurrentContext = "kubetest"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("kubetest: write kubeconfig: %w", err)
	}
	return nil
}
