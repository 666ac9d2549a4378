// Our own cert-manager controller for the control-plane twin (tools/harness/twin/addons.ts): the
// controllers of cert-manager's root module (github.com/cert-manager/cert-manager, the version in
// ../../go.mod) that turn a Certificate into a signed Secret with a CA Issuer or ClusterIssuer, and
// nothing else: no ACME, Vault, Venafi or self-signed issuers, no ingress or Gateway shim, no
// webhook, no cainjector, no leader election, no metrics or health servers. Each controller is
// cert-manager's own, built from its own constructor registered with cert-manager's controller
// package; this file only picks them, builds their shared context and runs them.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"

	// Each import registers its controller with controllerpkg (by its init function).
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	// The CA issuer type, which the issuer and certificaterequest controllers look up.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
)

// The controllers a Certificate needs to be issued by a CA (Cluster)Issuer, by cert-manager's names.
var defaultControllers = []string{
	"issuers",
	"clusterissuers",
	"certificates-trigger",
	"certificates-key-manager",
	"certificates-request-manager",
	"certificates-issuing",
	"certificates-readiness",
	"certificates-revision-manager",
	"certificaterequests-approver",
	"certificaterequests-issuer-ca",
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	clusterResourceNamespace := flag.String("cluster-resource-namespace", "cert-manager", "namespace of the Secrets that ClusterIssuers reference")
	controllers := flag.String("controllers", strings.Join(defaultControllers, ","), "controllers to run")
	workers := flag.Int("workers", 2, "workers per controller")
	minBackoff := flag.Duration("certificate-request-minimum-backoff-duration", time.Hour, "first wait after a failed issuance (cert-manager's default: 1h)")
	version := flag.Bool("version", false, "print the version and exit")
	klog.InitFlags(nil)
	flag.Parse()
	if *version {
		fmt.Printf("cert-manager %s (controllers: %s)\n", util.AppVersion, strings.Join(defaultControllers, ", "))
		return
	}
	logf.InitLogs()
	if err := run(*kubeconfig, *clusterResourceNamespace, strings.Split(*controllers, ","), *workers, *minBackoff); err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, clusterResourceNamespace string, names []string, workers int, minBackoff time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, logf.Log)

	opts := controllerpkg.ContextOptions{
		Kubeconfig:         kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		IssuerOptions:      controllerpkg.IssuerOptions{ClusterResourceNamespace: clusterResourceNamespace},
		CertificateOptions: controllerpkg.CertificateOptions{
			CertificateRequestMinimumBackoffDuration: minBackoff,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
	}
	factory, err := controllerpkg.NewContextFactory(ctx, opts)
	if err != nil {
		return fmt.Errorf("controller context: %w", err)
	}
	known := controllerpkg.Known()
	type started struct {
		name string
		c    controllerpkg.Interface
	}
	var loops []started
	for _, name := range names {
		construct, ok := known[name]
		if !ok {
			var all []string
			for n := range known {
				all = append(all, n)
			}
			slices.Sort(all)
			return fmt.Errorf("unknown controller %q (linked: %s)", name, strings.Join(all, ", "))
		}
		c, err := construct(factory)
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		loops = append(loops, started{name, c})
	}
	// Every constructor has asked for its informers; start them once, then the loops.
	shared, err := factory.Build()
	if err != nil {
		return err
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())
	shared.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	if shared.GatewaySolverEnabled {
		shared.GWShared.Start(ctx.Done())
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(loops))
	for _, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.c.Run(workers, ctx); err != nil {
				errs <- fmt.Errorf("controller %s: %w", l.name, err)
				stop()
			}
		}()
	}
	fmt.Printf("cert-manager %s: running %s\n", util.AppVersion, strings.Join(names, ", "))
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return nil
}
