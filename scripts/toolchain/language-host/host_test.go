package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseArgs(t *testing.T) {
	a, err := parseArgs([]string{"--logtostderr", "-v=9", "--tracing", "http://t", "127.0.0.1:1234"})
	if err != nil {
		t.Fatal(err)
	}
	want := cliArgs{engine: "127.0.0.1:1234", tracing: "http://t", verbose: 9, stderr: true}
	if a != want {
		t.Fatalf("got %+v, want %+v", a, want)
	}
	a, err = parseArgs([]string{"-typescript=true", "-root=/x", "127.0.0.1:1"})
	if err != nil || a.engine != "127.0.0.1:1" {
		t.Fatalf("got %+v, %v", a, err)
	}
}

func TestSplitArgs(t *testing.T) {
	got, err := splitArgs(`--a  "b c" 'd e' f\ g`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"--a", "b c", "d e", "f g"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := splitArgs(`"open`); err == nil {
		t.Fatal("expected an error for an unterminated quote")
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRequiredPackages(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "package.json"),
		`{"name":"app","dependencies":{"@pulumi/pulumi":"*","@pulumi/aws":"*","wrapper":"*"}}`)
	nm := filepath.Join(root, "node_modules")
	write(t, filepath.Join(nm, "@pulumi/pulumi/package.json"),
		`{"name":"@pulumi/pulumi","version":"3.248.0","pulumi":{"comment":"not a plugin"}}`)
	write(t, filepath.Join(nm, "@pulumi/aws/package.json"),
		`{"name":"@pulumi/aws","version":"7.1.0","pulumi":{"resource":true,"name":"aws"}}`)
	write(t, filepath.Join(nm, "wrapper/package.json"),
		`{"name":"wrapper","version":"1.0.0","dependencies":{"tfp":"*"}}`)
	write(t, filepath.Join(nm, "wrapper/node_modules/tfp/package.json"),
		`{"name":"tfp","version":"0.1.0","pulumi":{"resource":true,"name":"terraform-provider","version":"1.0.0",`+
			`"parameterization":{"name":"random","version":"3.6.0","value":"eyJ4IjoxfQ=="}}}`)
	// installed but not depended upon: ignored
	write(t, filepath.Join(nm, "@pulumi/gcp/package.json"),
		`{"name":"@pulumi/gcp","version":"8.0.0","pulumi":{"resource":true}}`)

	h := newHost("", "", nil)
	deps, err := h.requiredPackages(nil, filepath.Join(root, "src"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range deps {
		key := d.Name + "@" + d.Version
		if p := d.Parameterization; p != nil {
			key += "/" + p.Name + "@" + p.Version + "=" + string(p.Value)
		}
		got[key] = d.Kind
	}
	want := map[string]string{
		"aws@v7.1.0": "resource",
		`terraform-provider@v1.0.0/random@3.6.0={"x":1}`: "resource",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestSDKScript(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run/index.js"), "")
	got, err := sdkScript(filepath.Join(root, "a", "b"), "run")
	if err != nil || got != filepath.Join(root, "node_modules/@pulumi/pulumi/cmd/run") {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := sdkScript(root, "run-policy-pack"); err == nil {
		t.Fatal("expected an error for a missing entry point")
	}
}
