// Our own External Secrets Operator for the control-plane twin (tools/harness/twin/addons.ts): the
// ExternalSecret and ClusterSecretStore reconcilers of github.com/external-secrets/external-secrets
// (the version in ../../go.mod) with only the fake provider linked, and nothing else: no SecretStore,
// PushSecret or ClusterExternalSecret controllers, no other providers or generators, no webhook, no
// cert controller, no leader election, no metrics or health servers. The reconcilers are ESO's own;
// this file only builds their manager and starts them.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	genv1alpha1 "github.com/external-secrets/external-secrets/apis/generators/v1alpha1"
	ctrlcommon "github.com/external-secrets/external-secrets/pkg/controllers/common"
	"github.com/external-secrets/external-secrets/pkg/controllers/externalsecret"
	"github.com/external-secrets/external-secrets/pkg/controllers/externalsecret/esmetrics"
	ctrlmetrics "github.com/external-secrets/external-secrets/pkg/controllers/metrics"
	"github.com/external-secrets/external-secrets/pkg/controllers/secretstore"
	"github.com/external-secrets/external-secrets/pkg/controllers/secretstore/cssmetrics"

	// The only provider: ESO's fake provider, which serves the data its ClusterSecretStore lists.
	_ "github.com/external-secrets/external-secrets/pkg/provider/fake"
)

// version is set at build time (-X main.version=…, tools/go/external-secrets/build.env).
var version = "unknown"

func main() {
	// --kubeconfig is controller-runtime's own flag (registered by its config package).
	storeRequeue := flag.Duration("store-requeue-interval", 5*time.Minute, "time between reconciles of a ClusterSecretStore")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("external-secrets %s (ExternalSecret and ClusterSecretStore reconcilers, fake provider)\n", version)
		return
	}
	if err := run(*storeRequeue); err != nil {
		fmt.Fprintln(os.Stderr, "external-secrets:", err)
		os.Exit(1)
	}
}

func run(storeRequeue time.Duration) error {
	ctrl.SetLogger(zap.New())
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, esv1.AddToScheme, genv1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	config, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	config.QPS, config.Burst = 50, 100
	mgr, err := ctrl.NewManager(config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                server.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	// The reconcilers record metrics into these vectors; they must exist (nothing serves them).
	ctrlmetrics.SetUpLabelNames(false)
	esmetrics.SetUpMetrics()
	cssmetrics.SetUpMetrics()
	opts := controller.Options{MaxConcurrentReconciles: 1, RateLimiter: ctrlcommon.BuildRateLimiter()}
	if err := (&secretstore.ClusterStoreReconciler{
		Client:          mgr.GetClient(),
		Log:             ctrl.Log.WithName("controllers").WithName("ClusterSecretStore"),
		Scheme:          mgr.GetScheme(),
		RequeueInterval: storeRequeue,
	}).SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("ClusterSecretStore controller: %w", err)
	}
	if err := (&externalsecret.Reconciler{
		Client:                    mgr.GetClient(),
		SecretClient:              mgr.GetClient(),
		Log:                       ctrl.Log.WithName("controllers").WithName("ExternalSecret"),
		Scheme:                    mgr.GetScheme(),
		RestConfig:                mgr.GetConfig(),
		RequeueInterval:           time.Hour,
		ClusterSecretStoreEnabled: true,
	}).SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("ExternalSecret controller: %w", err)
	}
	fmt.Printf("external-secrets %s: running the ExternalSecret and ClusterSecretStore reconcilers\n", version)
	return mgr.Start(ctrl.SetupSignalHandler())
}
