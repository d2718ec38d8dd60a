// Command pause is the pod sandbox process of the local cluster's node: it holds the pod's
// namespaces, reaps orphans and exits on SIGINT or SIGTERM. The upstream pause image cannot be
// pulled on machines without internet access, so the node imports an image built around this.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
