// Command etcd is the etcd server of the local cluster: etcd publishes no main package that
// builds as a module dependency, so this one calls the server's own entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
