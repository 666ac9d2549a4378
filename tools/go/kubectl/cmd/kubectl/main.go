// Command kubectl is the kubectl command of the k8s.io/kubectl module pinned in go.mod, so that the
// Argo CD suite can bootstrap exactly as the README tells a user (`kubectl apply -n argocd -f ...`).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	os.Exit(cli.Run(cmd.NewDefaultKubectlCommand()))
}
