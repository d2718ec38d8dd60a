package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Records is the input file: the advisories to write and the build time the database reports.
type Records struct {
	Built      time.Time  `json:"built"`
	Advisories []Advisory `json:"advisories"`
}

// Advisory is one vulnerability and the CPEs it affects.
type Advisory struct {
	ID          string        `json:"id"`
	Severity    string        `json:"severity"`
	Description string        `json:"description"`
	CVSS        []CVSS        `json:"cvss"`
	CPEs        []AffectedCPE `json:"cpes"`
	URLs        []string      `json:"urls"`
}

// CVSS is one scored vector, for example {"vector": "CVSS:3.1/AV:N/...", "version": "3.1"}.
type CVSS struct {
	Vector  string `json:"vector"`
	Version string `json:"version"`
	Source  string `json:"source"`
}

// AffectedCPE is a CPE with the versions it affects (a grype constraint such as "= 1.35.0" or
// "< 1.36.0") and the version that fixes it, when there is one.
type AffectedCPE struct {
	CPE        string `json:"cpe"`
	Constraint string `json:"constraint"`
	FixedIn    string `json:"fixedIn"`
}

var severities = map[string]bool{
	"negligible": true, "low": true, "medium": true, "high": true, "critical": true,
}

// parseRecords reads the records file strictly: an unknown key, a missing field or a severity
// grype would report as Unknown is an error naming where it is.
func parseRecords(data []byte) (*Records, error) {
	var records Records
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&records); err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	if records.Built.IsZero() {
		return nil, fmt.Errorf(`records: "built" is missing (an RFC 3339 time, the database's build time)`)
	}
	seen := map[string]bool{}
	for i, advisory := range records.Advisories {
		where := fmt.Sprintf("records: advisories[%d]", i)
		if advisory.ID == "" {
			return nil, fmt.Errorf(`%s: "id" is missing`, where)
		}
		where = fmt.Sprintf("%s (%s)", where, advisory.ID)
		if seen[strings.ToLower(advisory.ID)] {
			return nil, fmt.Errorf("%s: the id appears twice", where)
		}
		seen[strings.ToLower(advisory.ID)] = true
		if !severities[strings.ToLower(advisory.Severity)] {
			return nil, fmt.Errorf(`%s: "severity" is %q; expected Negligible, Low, Medium, High or Critical`, where, advisory.Severity)
		}
		if len(advisory.CPEs) == 0 {
			return nil, fmt.Errorf(`%s: "cpes" is empty`, where)
		}
		for j, affected := range advisory.CPEs {
			if _, err := parseCPE(affected.CPE); err != nil {
				return nil, fmt.Errorf("%s: cpes[%d]: %w", where, j, err)
			}
			if affected.Constraint == "" {
				return nil, fmt.Errorf(`%s: cpes[%d]: "constraint" is missing (for example "= 1.35.0" or "< 1.36.0")`, where, j)
			}
		}
		for j, score := range advisory.CVSS {
			if score.Vector == "" || score.Version == "" {
				return nil, fmt.Errorf(`%s: cvss[%d]: "vector" and "version" are required`, where, j)
			}
		}
	}
	return &records, nil
}
