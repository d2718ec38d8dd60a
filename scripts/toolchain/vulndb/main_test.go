package main

import (
	"testing"
	"time"

	"github.com/anchore/syft/syft/cpe"

	v6 "github.com/anchore/grype/grype/db/v6"
)

const busybox = `{"id": "CVE-2022-30065", "severity": "High",
  "cpes": [{"cpe": "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*", "constraint": "= 1.35.0", "fixedIn": "1.36.0"}]}`

func TestParseRecordsRefusesBadInput(t *testing.T) {
	cases := []struct {
		name, records, message string
	}{
		{"no build time", `{"advisories": []}`,
			`records: "built" is missing (an RFC 3339 time, the database's build time)`},
		{"a build time that is not RFC 3339", `{"built": "yesterday", "advisories": []}`,
			`records: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		{"an unknown key", `{"built": "2026-12-01T00:00:00Z", "advisories": [], "extra": 1}`,
			`records: json: unknown field "extra"`},
		{"an advisory without id", `{"built": "2026-12-01T00:00:00Z", "advisories": [{"severity": "High"}]}`,
			`records: advisories[0]: "id" is missing`},
		{"an id twice", `{"built": "2026-12-01T00:00:00Z", "advisories": [` + busybox + `,` + busybox + `]}`,
			`records: advisories[1] (CVE-2022-30065): the id appears twice`},
		{"an unknown severity", `{"built": "2026-12-01T00:00:00Z", "advisories": [{"id": "CVE-1", "severity": "Severe"}]}`,
			`records: advisories[0] (CVE-1): "severity" is "Severe"; expected Negligible, Low, Medium, High or Critical`},
		{"no CPE", `{"built": "2026-12-01T00:00:00Z", "advisories": [{"id": "CVE-1", "severity": "low", "cpes": []}]}`,
			`records: advisories[0] (CVE-1): "cpes" is empty`},
		{"a CPE that is not one", `{"built": "2026-12-01T00:00:00Z", "advisories": [{"id": "CVE-1", "severity": "low", "cpes": [{"cpe": "busybox", "constraint": "< 2"}]}]}`,
			`records: advisories[0] (CVE-1): cpes[0]: "busybox" is not a CPE 2.3 string: unable to parse Attributes string: failed to parse Attributes="busybox": wfn: unsupported format "busybox"`},
		{"no constraint", `{"built": "2026-12-01T00:00:00Z", "advisories": [{"id": "CVE-1", "severity": "low", "cpes": [{"cpe": "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*"}]}]}`,
			`records: advisories[0] (CVE-1): cpes[0]: "constraint" is missing (for example "= 1.35.0" or "< 1.36.0")`},
		{"a CVSS without version", `{"built": "2026-12-01T00:00:00Z", "advisories": [{"id": "CVE-1", "severity": "low", "cvss": [{"vector": "CVSS:3.1/AV:N"}], "cpes": [{"cpe": "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*", "constraint": "< 2"}]}]}`,
			`records: advisories[0] (CVE-1): cvss[0]: "vector" and "version" are required`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseRecords([]byte(c.records))
			if err == nil {
				t.Fatalf("accepted %s", c.records)
			}
			if err.Error() != c.message {
				t.Fatalf("error\n got: %s\nwant: %s", err, c.message)
			}
		})
	}
}

// The database holds the advisory for the CPE and reports the records' build time, not now.
func TestWriteDatabaseStampsTheBuildTimeAndFindsTheAdvisory(t *testing.T) {
	records, err := parseRecords([]byte(`{"built": "2026-11-01T12:00:00Z", "advisories": [` + busybox + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	dbDir, err := writeDatabase(records, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reader, err := v6.NewReader(v6.Config{DBDirPath: dbDir})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	meta, err := reader.GetDBMetadata()
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC); !meta.BuildTimestamp.Equal(want) {
		t.Fatalf("build time %s, want %s", meta.BuildTimestamp, want)
	}
	query := cpe.MustAttributes("cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*")
	found, err := reader.GetAffectedCPEs(&query, &v6.GetCPEOptions{PreloadVulnerability: true, PreloadBlob: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Vulnerability.Name != "CVE-2022-30065" {
		t.Fatalf("affected CPEs for busybox: %+v", found)
	}
	fix := found[0].BlobValue.Ranges[0].Fix
	if fix.State != v6.FixedStatus || fix.Version != "1.36.0" {
		t.Fatalf("fix %+v, want fixed in 1.36.0", fix)
	}
}
