// Command argocd is the part of Argo CD v3.5.1 that npm run test:argocd runs: the repo-server and the
// application controller (plus the git credential helper the repo-server calls back into), chosen,
// as Argo CD's own cmd/main.go chooses, by ARGOCD_BINARY_NAME or else the name it was started as.
// Linking only these three leaves out the API server, UI, CLI, ApplicationSet and notifications
// controllers, commit-server and Dex, which the suite never starts, and most of the cold build.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	appcontroller "github.com/argoproj/argo-cd/v3/cmd/argocd-application-controller/commands"
	gitaskpass "github.com/argoproj/argo-cd/v3/cmd/argocd-git-ask-pass/commands"
	reposerver "github.com/argoproj/argo-cd/v3/cmd/argocd-repo-server/commands"
	"github.com/argoproj/argo-cd/v3/common"
	"github.com/argoproj/argo-cd/v3/util/log"
)

func main() {
	// klog (client-go) logs through Argo CD's logger, at its level and format, as upstream does.
	klog.SetLogger(log.NewLogrusLogger(log.NewWithCurrentConfig()))

	name := filepath.Base(os.Args[0])
	if v := os.Getenv("ARGOCD_BINARY_NAME"); v != "" {
		name = v
	}
	var command *cobra.Command
	switch name {
	case common.CommandRepoServer:
		command = reposerver.NewCommand()
	case common.CommandApplicationController:
		command = appcontroller.NewCommand()
	case common.CommandGitAskPass:
		command = gitaskpass.NewCommand()
	default:
		if len(os.Args) == 2 && os.Args[1] == "version" {
			v := common.GetVersion()
			fmt.Printf("argocd: %s\n  BuildDate: %s\n  GitCommit: %s\n  GitTreeState: %s\n  GitTag: %s\n  GoVersion: %s\n  Compiler: %s\n  Platform: %s\n",
				v.Version, v.BuildDate, v.GitCommit, v.GitTreeState, v.GitTag, v.GoVersion, v.Compiler, v.Platform)
			return
		}
		fmt.Fprintf(os.Stderr, "argocd (Argo CD %s, repo-server and application controller only): set ARGOCD_BINARY_NAME to %s or %s (%s is also known); `argocd version` prints the version\n",
			common.GetVersion(), common.CommandRepoServer, common.CommandApplicationController, common.CommandGitAskPass)
		os.Exit(2)
	}
	if err := command.Execute(); err != nil {
		os.Exit(1) // cobra has printed the error
	}
}
