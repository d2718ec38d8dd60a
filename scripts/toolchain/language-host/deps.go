package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"context"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// packageJSON holds the parts of a package.json this host reads.
type packageJSON struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Dependencies         map[string]string `json:"dependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	Pulumi               json.RawMessage   `json:"pulumi"`
}

// pulumiSection is the "pulumi" object of a provider SDK's package.json.
type pulumiSection struct {
	Resource         bool   `json:"resource"`
	Name             string `json:"name"`
	Version          string `json:"version"`
	Server           string `json:"server"`
	Parameterization *struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Value   string `json:"value"` // base64
	} `json:"parameterization"`
}

type installed struct {
	dir string // real path of the package directory
	pkg packageJSON
}

func readPackageJSON(dir string) (packageJSON, error) {
	var p packageJSON
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("parsing %s: %w", filepath.Join(dir, "package.json"), err)
	}
	return p, nil
}

// projectDir is the directory of the nearest package.json at or above dir (dir itself if none).
func projectDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "package.json")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return abs
		}
	}
}

// resolvePackage finds package name as required from a module in dir (node_modules lookup).
func resolvePackage(dir, name string) (string, bool) {
	for d := dir; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "node_modules", filepath.FromSlash(name))
		if _, err := os.Stat(filepath.Join(cand, "package.json")); err == nil {
			if real, err := filepath.EvalSymlinks(cand); err == nil {
				return real, true
			}
			return cand, true
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

func depNames(m ...map[string]string) []string {
	var names []string
	seen := map[string]bool{}
	for _, deps := range m {
		for n := range deps {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// installedDeps returns the installed packages the project in dir depends on: its dependencies
// and devDependencies, plus (if transitive) everything those depend on. Packages that are not
// installed are skipped.
func installedDeps(dir string, transitive bool) (packageJSON, []installed, error) {
	root := projectDir(dir)
	rootPkg, err := readPackageJSON(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return rootPkg, nil, nil
		}
		return rootPkg, nil, err
	}
	var out []installed
	seen := map[string]bool{}
	var visit func(from string, names []string) error
	visit = func(from string, names []string) error {
		for _, n := range names {
			pdir, ok := resolvePackage(from, n)
			if !ok || seen[pdir] {
				continue
			}
			seen[pdir] = true
			p, err := readPackageJSON(pdir)
			if err != nil {
				return err
			}
			out = append(out, installed{dir: pdir, pkg: p})
			if transitive {
				if err := visit(pdir, depNames(p.Dependencies, p.OptionalDependencies)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err = visit(root, depNames(rootPkg.Dependencies, rootPkg.DevDependencies, rootPkg.OptionalDependencies))
	return rootPkg, out, err
}

// pluginOf returns the resource plugin a package declares in its "pulumi" section, if any.
func pluginOf(p packageJSON) (*pulumirpc.PackageDependency, error) {
	if len(p.Pulumi) == 0 {
		return nil, nil
	}
	var s pulumiSection
	if err := json.Unmarshal(p.Pulumi, &s); err != nil || !s.Resource {
		return nil, nil //nolint:nilerr // a "pulumi" value of another shape declares no plugin
	}
	name := s.Name
	if name == "" {
		name = strings.TrimPrefix(p.Name, "@pulumi/")
		name = strings.TrimPrefix(name, "@")
	}
	ver := s.Version
	if ver == "" {
		ver = p.Version
	}
	if ver != "" && !strings.HasPrefix(ver, "v") {
		ver = "v" + ver
	}
	dep := &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: ver, Server: s.Server}
	if pz := s.Parameterization; pz != nil {
		value, err := base64.StdEncoding.DecodeString(pz.Value)
		if err != nil {
			return nil, fmt.Errorf("package %s: parameterization value is not base64: %w", p.Name, err)
		}
		dep.Parameterization = &pulumirpc.PackageParameterization{Name: pz.Name, Version: pz.Version, Value: value}
	}
	return dep, nil
}

func (h *host) requiredPackages(info *pulumirpc.ProgramInfo, fallbackDir string) ([]*pulumirpc.PackageDependency, error) {
	dir := info.GetProgramDirectory()
	if dir == "" {
		dir = fallbackDir
	}
	_, pkgs, err := installedDeps(dir, true)
	if err != nil {
		return nil, err
	}
	var deps []*pulumirpc.PackageDependency
	seen := map[string]bool{}
	for _, p := range pkgs {
		dep, err := pluginOf(p.pkg)
		if err != nil {
			return nil, err
		}
		if dep == nil {
			continue
		}
		key := dep.Name + "@" + dep.Version
		if dep.Parameterization != nil {
			key += "/" + dep.Parameterization.Name + "@" + dep.Parameterization.Version
		}
		if !seen[key] {
			seen[key] = true
			deps = append(deps, dep)
		}
	}
	h.log.Printf("required packages of %s: %d", dir, len(deps))
	return deps, nil
}

// GetRequiredPackages lists the provider plugins of the installed npm packages the program
// depends on (packages whose package.json has "pulumi": {"resource": true}).
func (h *host) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := h.requiredPackages(req.GetInfo(), "")
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

// GetRequiredPlugins is the older form of GetRequiredPackages (without parameterized packages).
func (h *host) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := h.requiredPackages(req.GetInfo(), req.GetPwd())
	if err != nil {
		return nil, err
	}
	var plugins []*pulumirpc.PluginDependency
	for _, d := range deps {
		if d.Parameterization != nil {
			continue
		}
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: d.Name, Kind: d.Kind, Version: d.Version, Server: d.Server,
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// GetProgramDependencies lists npm dependencies with their installed versions (`pulumi about`).
func (h *host) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetPwd()
	}
	rootPkg, pkgs, err := installedDeps(dir, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	var out []*pulumirpc.DependencyInfo
	found := map[string]bool{}
	for _, p := range pkgs {
		found[p.pkg.Name] = true
		out = append(out, &pulumirpc.DependencyInfo{Name: p.pkg.Name, Version: p.pkg.Version})
	}
	// Declared but not installed: report the declared range.
	for _, deps := range []map[string]string{rootPkg.Dependencies, rootPkg.DevDependencies} {
		for _, n := range depNames(deps) {
			if !found[n] {
				found[n] = true
				out = append(out, &pulumirpc.DependencyInfo{Name: n, Version: deps[n]})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: out}, nil
}

// packageManager picks npm, yarn, pnpm or bun: the runtime option, else the lock file present.
func packageManager(option, dir string) string {
	if option != "" && option != "auto" {
		return option
	}
	for _, c := range []struct{ lock, pm string }{
		{"yarn.lock", "yarn"}, {"pnpm-lock.yaml", "pnpm"}, {"bun.lock", "bun"}, {"bun.lockb", "bun"},
	} {
		if _, err := os.Stat(filepath.Join(dir, c.lock)); err == nil {
			return c.pm
		}
	}
	return "npm"
}

// InstallDependencies runs `<package manager> install` in the project directory and streams its
// output (`pulumi install`, `pulumi new`).
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	opts, err := parseOptions(req.GetInfo().GetOptions())
	if err != nil {
		return err
	}
	dir = projectDir(dir)
	pm := packageManager(opts.packageManager, dir)
	bin, err := exec.LookPath(pm)
	if err != nil {
		return fmt.Errorf("package manager %s not found on the PATH: %w", pm, err)
	}
	cmd := exec.CommandContext(server.Context(), bin, "install")
	cmd.Dir = dir
	var mu sync.Mutex
	cmd.Stdout = streamWriter{&mu, func(b []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b})
	}}
	cmd.Stderr = streamWriter{&mu, func(b []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b})
	}}
	h.log.Printf("InstallDependencies: %s install (in %s)", pm, dir)
	fmt.Fprintf(cmd.Stdout, "Installing dependencies with %s install in %s...\n", pm, dir)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s install failed: %w", pm, err)
	}
	return nil
}

type streamWriter struct {
	mu   *sync.Mutex
	send func([]byte) error
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.send(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

var _ io.Writer = streamWriter{}
