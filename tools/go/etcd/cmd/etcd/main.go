// Command etcd is etcd's own server entry point, built from the go.etcd.io/etcd/server/v3 module
// pinned in go.mod. It exists only so that `go install` names the binary etcd (the module's root
// package would install as "server").
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
