// battlescope-sbom writes the SPDX 2.3 JSON SBOMs of registry images with syft's own library, in
// one process for a whole release: each syft process builds its license scanner (about 0.7 s of
// CPU, more than cataloging a small image), so a release of 18 images paid it 18 times.
//
//	battlescope-sbom --version
//	battlescope-sbom serve
//
// serve reads one request per line on stdin, {"id": "1", "ref": "<registry>/<repo>@sha256:…",
// "out": "<file>"}, and answers each on stdout, {"id": "1"} once the file is written or
// {"id": "1", "error": "…"}; requests run concurrently, and it ends when stdin closes. The
// registry login comes from the environment (BATTLESCOPE_SBOM_REGISTRY, _USERNAME, _PASSWORD),
// so no file holds it while the server runs; without it, the Docker config's logins as syft's.
// Files: every file with its SHA-256, as `syft scan` with SYFT_FILE_METADATA_SELECTION=all and
// SYFT_FILE_METADATA_DIGESTS=sha256.
package main

import (
	"bufio"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/anchore/stereoscope/pkg/image"
	"github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/cataloging"
	"github.com/anchore/syft/syft/cataloging/filecataloging"
	"github.com/anchore/syft/syft/file"
	"github.com/anchore/syft/syft/format/spdxjson"
	// The SQL driver syft's own main registers: catalogers read RPM databases kept in sqlite.
	_ "modernc.org/sqlite"
)

type request struct {
	ID  string `json:"id"`
	Ref string `json:"ref"`
	Out string `json:"out"`
}

type answer struct {
	ID    string `json:"id"`
	Error string `json:"error,omitempty"`
}

func syftVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/anchore/syft" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

func sbomConfig() *syft.CreateSBOMConfig {
	version := syftVersion()
	if len(version) > 0 && version[0] == 'v' {
		version = version[1:]
	}
	return syft.DefaultCreateSBOMConfig().
		WithTool("syft", version).
		WithFilesConfig(filecataloging.DefaultConfig().
			WithSelection(file.AllFilesSelection).
			WithHashers(crypto.SHA256))
}

// registryOptions: the login of the environment, if any, for its registry only.
func registryOptions() *image.RegistryOptions {
	username, password := os.Getenv("BATTLESCOPE_SBOM_USERNAME"), os.Getenv("BATTLESCOPE_SBOM_PASSWORD")
	if username == "" || password == "" {
		return &image.RegistryOptions{}
	}
	return &image.RegistryOptions{Credentials: []image.RegistryCredentials{{
		Authority: os.Getenv("BATTLESCOPE_SBOM_REGISTRY"),
		Username:  username,
		Password:  password,
	}}}
}

// write makes the SBOM of one image into out (through a temporary file beside it).
func write(ctx context.Context, ref, out string) error {
	cfg := syft.DefaultGetSourceConfig().WithSources("registry").WithRegistryOptions(registryOptions())
	src, err := syft.GetSource(ctx, ref, cfg)
	if err != nil {
		return fmt.Errorf("could not read %s: %w", ref, err)
	}
	defer src.Close()
	made, err := syft.CreateSBOM(ctx, src, sbomConfig())
	if err != nil {
		return fmt.Errorf("could not catalog %s: %w", ref, err)
	}
	encoder, err := spdxjson.NewFormatEncoderWithConfig(spdxjson.DefaultEncoderConfig())
	if err != nil {
		return err
	}
	partial, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*.partial")
	if err != nil {
		return err
	}
	defer os.Remove(partial.Name())
	if err := encoder.Encode(partial, *made); err != nil {
		partial.Close()
		return err
	}
	if err := partial.Close(); err != nil {
		return err
	}
	return os.Rename(partial.Name(), out)
}

func serve() error {
	// One license scanner for every image: CreateSBOM keeps one it finds on the context.
	ctx, err := syft.SetContextLicenseScanner(context.Background(), cataloging.DefaultLicenseConfig())
	if err != nil {
		return err
	}
	var answers sync.Mutex
	encoder := json.NewEncoder(os.Stdout)
	reply := func(a answer) {
		answers.Lock()
		defer answers.Unlock()
		_ = encoder.Encode(a)
	}
	var pending sync.WaitGroup
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 64*1024), 1024*1024)
	for lines.Scan() {
		var req request
		if err := json.Unmarshal(lines.Bytes(), &req); err != nil {
			reply(answer{Error: fmt.Sprintf("unreadable request %q: %v", lines.Text(), err)})
			continue
		}
		pending.Add(1)
		go func() {
			defer pending.Done()
			if err := write(ctx, req.Ref, req.Out); err != nil {
				reply(answer{ID: req.ID, Error: err.Error()})
				return
			}
			reply(answer{ID: req.ID})
		}()
	}
	pending.Wait()
	return lines.Err()
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Printf("%s (syft)\n", syftVersion())
		return
	}
	if len(os.Args) != 2 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: battlescope-sbom serve | battlescope-sbom --version")
		os.Exit(2)
	}
	if err := serve(); err != nil {
		fmt.Fprintln(os.Stderr, "battlescope-sbom:", err)
		os.Exit(1)
	}
}
