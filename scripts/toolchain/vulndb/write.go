package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/afero"
	"gorm.io/gorm"

	v6 "github.com/anchore/grype/grype/db/v6"
	"github.com/anchore/syft/syft/cpe"
)

// The provider grype's public database uses for CPE advisories: matches then report the
// namespace "nvd:cpe", as they do with the real database.
const providerID = "nvd"

// writeDatabase writes <out>/6/vulnerability.db and its import.json; returns <out>/6.
func writeDatabase(records *Records, out string) (string, error) {
	built := records.Built.UTC().Round(time.Second)
	dbDir := filepath.Join(out, strconv.Itoa(v6.ModelVersion))
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return "", err
	}
	for _, name := range []string{v6.VulnerabilityDBFileName, v6.ImportMetadataFileName} {
		if err := os.Remove(filepath.Join(dbDir, name)); err != nil && !os.IsNotExist(err) {
			return "", err
		}
	}
	writer, err := v6.NewWriter(v6.Config{DBDirPath: dbDir})
	if err != nil {
		return "", fmt.Errorf("open %s: %w", dbDir, err)
	}
	if err := addAdvisories(writer, records.Advisories, built); err != nil {
		_ = writer.Close()
		return "", err
	}
	// NewWriter stamps the time of writing; the records say when the database was built.
	if err := setBuildTimestamp(writer, built); err != nil {
		_ = writer.Close()
		return "", err
	}
	if err := writer.Close(); err != nil {
		return "", fmt.Errorf("close %s: %w", dbDir, err)
	}
	// What `grype db import` does after unpacking: recreate the indexes Close dropped, then
	// write import.json (the database's digest and schema), without which grype refuses it.
	if err := v6.Hydrater()(dbDir); err != nil {
		return "", fmt.Errorf("hydrate %s: %w", dbDir, err)
	}
	if _, err := v6.WriteImportMetadata(afero.NewOsFs(), dbDir, "battlescope-vulndb"); err != nil {
		return "", err
	}
	return dbDir, nil
}

func addAdvisories(writer v6.ReadWriter, advisories []Advisory, built time.Time) error {
	provider := &v6.Provider{
		ID:           providerID,
		Version:      "1",
		Processor:    "battlescope-vulndb",
		DateCaptured: &built,
	}
	for _, advisory := range advisories {
		vulnerability := &v6.VulnerabilityHandle{
			Name:       advisory.ID,
			Status:     v6.VulnerabilityActive,
			ProviderID: providerID,
			Provider:   provider,
			BlobValue:  vulnerabilityBlob(advisory),
		}
		if err := writer.AddVulnerabilities(vulnerability); err != nil {
			return fmt.Errorf("%s: %w", advisory.ID, err)
		}
		for _, affected := range advisory.CPEs {
			parsed, err := parseCPE(affected.CPE)
			if err != nil {
				return fmt.Errorf("%s: %w", advisory.ID, err)
			}
			handle := &v6.AffectedCPEHandle{
				Vulnerability: vulnerability,
				CPE:           parsed,
				BlobValue: &v6.PackageBlob{
					CVEs:   cves(advisory.ID),
					Ranges: []v6.Range{affectedRange(affected)},
				},
			}
			if err := writer.AddAffectedCPEs(handle); err != nil {
				return fmt.Errorf("%s: %s: %w", advisory.ID, affected.CPE, err)
			}
		}
	}
	return nil
}

func vulnerabilityBlob(advisory Advisory) *v6.VulnerabilityBlob {
	// grype reports the first severity (its database orders them by rank): the qualitative one.
	severities := []v6.Severity{{
		Scheme: v6.SeveritySchemeCHMLN,
		Value:  strings.ToLower(advisory.Severity),
		Source: "battlescope-vulndb",
		Rank:   1,
	}}
	for _, score := range advisory.CVSS {
		severities = append(severities, v6.Severity{
			Scheme: v6.SeveritySchemeCVSS,
			Value:  v6.CVSSSeverity{Vector: score.Vector, Version: score.Version},
			Source: score.Source,
			Rank:   2,
		})
	}
	references := make([]v6.Reference, 0, len(advisory.URLs))
	for _, url := range advisory.URLs {
		references = append(references, v6.Reference{URL: url})
	}
	return &v6.VulnerabilityBlob{
		ID:          advisory.ID,
		Description: advisory.Description,
		References:  references,
		Severities:  severities,
	}
}

func affectedRange(affected AffectedCPE) v6.Range {
	fix := &v6.Fix{State: v6.NotFixedStatus}
	if affected.FixedIn != "" {
		fix = &v6.Fix{Version: affected.FixedIn, State: v6.FixedStatus}
	}
	return v6.Range{Version: v6.Version{Constraint: affected.Constraint}, Fix: fix}
}

func cves(id string) []string {
	if strings.HasPrefix(strings.ToUpper(id), "CVE-") {
		return []string{id}
	}
	return nil
}

// parseCPE reads a CPE 2.3 formatted string into the database's CPE row (the version and update
// are not part of it: the range says which versions are affected).
func parseCPE(formatted string) (*v6.Cpe, error) {
	attributes, err := cpe.NewAttributes(formatted)
	if err != nil {
		return nil, fmt.Errorf("%q is not a CPE 2.3 string: %w", formatted, err)
	}
	if attributes.Product == "" {
		return nil, fmt.Errorf("%q has no product", formatted)
	}
	return &v6.Cpe{
		Part:            attributes.Part,
		Vendor:          attributes.Vendor,
		Product:         attributes.Product,
		Edition:         attributes.Edition,
		Language:        attributes.Language,
		SoftwareEdition: attributes.SWEdition,
		TargetHardware:  attributes.TargetHW,
		TargetSoftware:  attributes.TargetSW,
		Other:           attributes.Other,
	}, nil
}

// setBuildTimestamp replaces the build time NewWriter recorded (the time of writing).
func setBuildTimestamp(writer v6.ReadWriter, built time.Time) error {
	withDB, ok := writer.(interface{ GetDB() *gorm.DB })
	if !ok {
		return fmt.Errorf("grype's database writer no longer exposes GetDB: cannot set the build time")
	}
	result := withDB.GetDB().Model(&v6.DBMetadata{}).Where("true").Update("build_timestamp", built)
	if result.Error != nil {
		return fmt.Errorf("set the build time: %w", result.Error)
	}
	if result.RowsAffected != 1 {
		return fmt.Errorf("set the build time: %d metadata rows updated, expected 1", result.RowsAffected)
	}
	return nil
}
