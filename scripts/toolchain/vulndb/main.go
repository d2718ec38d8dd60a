// battlescope-vulndb writes a grype vulnerability database (schema v6) from a JSON records file,
// with grype's own database package, so that tests can scan offline against known advisories:
//
//	battlescope-vulndb --records <file.json> --out <dir>
//
// writes <dir>/6/vulnerability.db and <dir>/6/import.json, which grype reads with
// GRYPE_DB_CACHE_DIR=<dir> GRYPE_DB_AUTO_UPDATE=false. The database reports the records' "built"
// time as its build time (not the time it was written), so a test can make a stale database.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"

	v6 "github.com/anchore/grype/grype/db/v6"
)

const grypeModule = "github.com/anchore/grype"

func main() {
	recordsPath := flag.String("records", "", "JSON records file: {\"built\": <RFC 3339>, \"advisories\": [...]}")
	outDir := flag.String("out", "", "grype database cache directory to write (<out>/6/vulnerability.db)")
	version := flag.Bool("version", false, "print the grype module version and database schema this binary writes")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: battlescope-vulndb --records <file.json> --out <dir>")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *version && flag.NFlag() == 1 && flag.NArg() == 0 {
		// scripts/toolchain.sh checks the first word against GRYPE_VERSION.
		fmt.Printf("%s (%s, database schema v%d.%d.%d)\n", grypeVersion(), grypeModule, v6.ModelVersion, v6.Revision, v6.Addition)
		return
	}
	if *version || *recordsPath == "" || *outDir == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	data, err := os.ReadFile(*recordsPath)
	if err != nil {
		fail(err)
	}
	records, err := parseRecords(data)
	if err != nil {
		fail(err)
	}
	dbDir, err := writeDatabase(records, *outDir)
	if err != nil {
		fail(err)
	}
	fmt.Printf("battlescope-vulndb: wrote %d advisories to %s, built %s\n",
		len(records.Advisories), dbDir, records.Built.UTC().Format("2006-01-02T15:04:05Z"))
}

// grypeVersion is the version of grype's module this binary was built with.
func grypeVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == grypeModule {
				return dep.Version
			}
		}
	}
	return "unknown"
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "battlescope-vulndb: %v\n", err)
	os.Exit(1)
}
