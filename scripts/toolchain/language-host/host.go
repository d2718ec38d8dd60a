package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// exitAfterReport is the exit code the Node.js SDK uses after it has already shown the user an
// actionable error; the engine is then told to bail without adding a message of its own.
const exitAfterReport = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu      sync.Mutex
	engine  string
	tracing string
	log     *log.Logger
	running map[*exec.Cmd]struct{}
}

func newHost(engine, tracing string, logger *log.Logger) *host {
	if logger == nil {
		logger = discardLogger()
	}
	return &host{engine: engine, tracing: tracing, log: logger, running: map[*exec.Cmd]struct{}{}}
}

func (h *host) engineAddress() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engine
}

// runtimeOptions are the `runtime.options` of Pulumi.yaml / PulumiPolicy.yaml / PulumiPlugin.yaml.
type runtimeOptions struct {
	typescript     bool
	tsconfig       string
	nodeargs       []string
	packageManager string
}

func parseOptions(s *structpb.Struct) (runtimeOptions, error) {
	o := runtimeOptions{typescript: true}
	if s == nil {
		return o, nil
	}
	for k, v := range s.AsMap() {
		str := fmt.Sprint(v)
		switch k {
		case "typescript":
			switch t := v.(type) {
			case bool:
				o.typescript = t
			case string:
				o.typescript = t != "false"
			}
		case "tsconfig":
			o.tsconfig = str
		case "nodeargs":
			args, err := splitArgs(str)
			if err != nil {
				return o, fmt.Errorf("runtime option nodeargs: %w", err)
			}
			o.nodeargs = args
		case "packagemanager":
			o.packageManager = str
		}
	}
	return o, nil
}

// env returns the variables through which the SDK's entry points learn about the options.
func (o runtimeOptions) env() []string {
	var env []string
	if o.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return env
}

// splitArgs splits a command line on blanks, honouring single and double quotes and backslashes.
func splitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote or escape in %q", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func nodeBinary() (string, error) {
	p, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("could not find node on the PATH: %w", err)
	}
	return p, nil
}

// sdkScript finds `@pulumi/pulumi/cmd/<name>` as Node.js would from dir: in the node_modules of dir
// or of one of its parents.
func sdkScript(dir, name string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "node_modules", "@pulumi", "pulumi", "cmd", name)
		if _, err := os.Stat(filepath.Join(cand, "index.js")); err == nil {
			return cand, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("cannot find module '@pulumi/pulumi/cmd/%s' from %s: it looks like the Pulumi SDK "+
		"has not been installed; have you run npm install or yarn install?", name, dir)
}

func (h *host) track(cmd *exec.Cmd, add bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if add {
		h.running[cmd] = struct{}{}
	} else {
		delete(h.running, cmd)
	}
}

// Handshake records the engine address (used when the CLI attaches to an already running host).
func (h *host) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engine = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(ctx context.Context, _ *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := nodeBinary()
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("node --version: %w", err)
	}
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
		Metadata:   map[string]string{"languageHost": "battlescope pulumi-language-nodejs " + version},
	}, nil
}

// Cancel interrupts the programs and plugins this host is running.
func (h *host) Cancel(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for cmd := range h.running {
		if cmd.Process != nil {
			_ = cmd.Process.Signal(os.Interrupt)
		}
	}
	return &emptypb.Empty{}, nil
}

// Run executes a Pulumi program: node [nodeargs] <sdk>/cmd/run --monitor ... <program> [args].
// The program's stdout/stderr go to ours, which the CLI shows to the user.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	opts, err := parseOptions(info.GetOptions())
	if err != nil {
		return nil, err
	}
	pwd := req.GetPwd()
	if pwd == "" {
		pwd = info.GetProgramDirectory()
	}
	node, err := nodeBinary()
	if err != nil {
		return nil, err
	}
	runScript, err := sdkScript(pwd, "run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if req.GetAttachDebugger() {
		fmt.Fprintln(os.Stderr, "warning: this Node.js language host does not support attaching a debugger; running normally")
	}

	args := append([]string{}, opts.nodeargs...)
	args = append(args, runScript)
	flag := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flag("monitor", req.GetMonitorAddress())
	flag("engine", h.engineAddress())
	flag("organization", req.GetOrganization())
	flag("project", req.GetProject())
	flag("stack", req.GetStack())
	flag("pwd", pwd)
	flag("root-directory", info.GetRootDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	if p := req.GetParallel(); p != 0 {
		flag("parallel", fmt.Sprint(p))
	}
	flag("tracing", h.tracing)
	program := req.GetProgram()
	if program == "" {
		program = "." // package.json "main"/"exports", else index.js
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	config := req.GetConfig()
	if config == nil {
		config = map[string]string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = pwd
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), opts.env()...)
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(configJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	h.log.Printf("Run: %s %s (in %s)", node, strings.Join(args, " "), pwd)

	if err := cmd.Start(); err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start node: %v", err)}, nil
	}
	h.track(cmd, true)
	err = cmd.Wait()
	h.track(cmd, false)
	_ = os.Stdout.Sync()
	_ = os.Stderr.Sync()
	if err == nil {
		return &pulumirpc.RunResponse{}, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if exitErr.ExitCode() == exitAfterReport {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program was terminated by signal %v", ws.Signal())}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
		}, nil
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("Problem running the program with node: %v", err)}, nil
}

// RunPlugin runs a plugin written in Node.js: policy packs (kind "analyzer") through the SDK's
// cmd/run-policy-pack, resource providers and other plugins through cmd/run-plugin. Output and the
// exit code are streamed back; the plugin's first stdout line is its gRPC port.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	info := req.GetInfo()
	opts, err := parseOptions(info.GetOptions())
	if err != nil {
		return err
	}
	dir := info.GetProgramDirectory()
	if dir == "" {
		return status.Error(codes.InvalidArgument, "RunPlugin: missing program directory")
	}
	program := dir
	if ep := info.GetEntryPoint(); ep != "" && ep != "." {
		program = filepath.Join(dir, ep)
	}
	node, err := nodeBinary()
	if err != nil {
		return err
	}
	if req.GetAttachDebugger() {
		return status.Error(codes.Unimplemented, "this Node.js language host does not support attaching a debugger")
	}

	args := append([]string{}, opts.nodeargs...)
	switch req.GetKind() {
	case "analyzer":
		script, err := sdkScript(dir, "run-policy-pack")
		if err != nil {
			// The CLI recognises this message on stderr and suggests installing the pack's
			// dependencies.
			msg := "Cannot find module '@pulumi/pulumi/cmd/run-policy-pack' (" + err.Error() + ")\n"
			if err := server.Send(&pulumirpc.RunPluginResponse{
				Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: []byte(msg)},
			}); err != nil {
				return err
			}
			return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: 1}})
		}
		// run-policy-pack <engine-address> <program>; the CLI puts the engine address last,
		// after any logging/tracing flags.
		engine := h.engineAddress()
		if a := req.GetArgs(); len(a) > 0 {
			engine = a[len(a)-1]
		}
		args = append(args, script, engine, program)
	default:
		script, err := sdkScript(dir, "run-plugin")
		if err != nil {
			return err
		}
		// run-plugin <program> [plugin args...]
		args = append(args, script, program)
		args = append(args, req.GetArgs()...)
	}

	cmd := exec.CommandContext(ctx, node, args...)
	// Policy packs resolve tsconfig.json and relative paths from their own directory.
	cmd.Dir = dir
	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	cmd.Env = append(append([]string{}, env...), opts.env()...)
	h.log.Printf("RunPlugin(%s): %s %s (in %s)", req.GetKind(), node, strings.Join(args, " "), dir)

	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not start node: %w", err)
	}
	h.track(cmd, true)
	defer h.track(cmd, false)

	var sendMu sync.Mutex
	send := func(r *pulumirpc.RunPluginResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return server.Send(r)
	}
	var wg sync.WaitGroup
	pump := func(r io.Reader, wrap func([]byte) *pulumirpc.RunPluginResponse) {
		defer wg.Done()
		buf := make([]byte, 32*1024)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if send(wrap(append([]byte(nil), buf[:n]...))) != nil {
					_, _ = io.Copy(io.Discard, r)
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pump(stdout, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	})
	go pump(stderr, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	})
	wg.Wait()

	code := int32(0)
	if err := cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = int32(exitErr.ExitCode())
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}
