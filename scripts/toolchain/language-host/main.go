// Command pulumi-language-nodejs is a small, self-written Node.js language host for the Pulumi CLI.
//
// The upstream host cannot be built here (its Go module is not available offline), so this one
// implements just what `pulumi preview|up|destroy|refresh|about|install` and local policy packs
// need: it serves the LanguageRuntime gRPC service and runs programs and plugins with the
// `@pulumi/pulumi/cmd/*` entry points of the project's own Node.js SDK.
//
// Start-up protocol (as for every plugin): the CLI starts the binary with optional logging and
// tracing flags followed by the engine address, reads the gRPC port from the first stdout line,
// and then forwards everything else this process writes to stdout/stderr to the user.
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// maxMessageSize matches the limit the CLI uses for its own gRPC channels.
const maxMessageSize = 400 * 1024 * 1024

// version is stamped at build time: -ldflags "-X main.version=3.248.0".
var version = "0.0.0-dev"

type cliArgs struct {
	engine  string
	tracing string
	verbose int
	stderr  bool
}

// parseArgs accepts the flags the CLI may pass to plugins (--logtostderr, -v=N, --tracing URL) and
// ignores any other flag (older CLIs passed runtime options such as -typescript=true). The first
// positional argument is the engine address.
func parseArgs(args []string) (cliArgs, error) {
	var a cliArgs
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			if a.engine == "" {
				a.engine = arg
			}
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		switch name {
		case "tracing":
			if !hasValue && i+1 < len(args) {
				i++
				value = args[i]
			}
			a.tracing = value
		case "v":
			if !hasValue && i+1 < len(args) {
				i++
				value = args[i]
			}
			n, err := strconv.Atoi(value)
			if err != nil {
				return a, fmt.Errorf("bad verbosity %q", value)
			}
			a.verbose = n
		case "logtostderr":
			a.stderr = !hasValue || value == "true"
		case "version":
			fmt.Println(version)
			os.Exit(0)
		case "h", "help":
			fmt.Fprintln(os.Stderr, "usage: pulumi-language-nodejs [--logtostderr] [-v=N] [--tracing URL] [ENGINE-ADDRESS]")
			fmt.Fprintln(os.Stderr, "Serves the Pulumi LanguageRuntime gRPC service for Node.js programs; prints its port.")
			os.Exit(0)
		}
	}
	return a, nil
}

func main() {
	args, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(2)
	}
	logger := log.New(os.Stderr, "pulumi-language-nodejs: ", log.LstdFlags)
	if !args.stderr || args.verbose < 5 {
		logger.SetOutput(io.Discard)
	}

	h := newHost(args.engine, args.tracing, logger)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: cannot listen: %v\n", err)
		os.Exit(1)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxMessageSize))
	pulumirpc.RegisterLanguageRuntimeServer(srv, h)

	// The port line is the handshake with the CLI, which stops us by killing the process.
	fmt.Printf("%d\n", lis.Addr().(*net.TCPAddr).Port)
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
