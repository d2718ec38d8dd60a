// Package java declares the Java language section of a Pulumi package schema, as far as
// pulumi-docker-build needs it to compile. See scripts/toolchain/docker-build/README.md.
package java

// PackageInfo is the schema's "language.java" object.
type PackageInfo struct {
	Packages                        map[string]string `json:"packages,omitempty"`
	BasePackage                     string            `json:"basePackage"`
	BuildFiles                      string            `json:"buildFiles,omitempty"`
	Dependencies                    map[string]string `json:"dependencies,omitempty"`
	GradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion,omitempty"`
	GradleTest                      string            `json:"gradleTest"`
}
