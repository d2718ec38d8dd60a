// Package codegen declares the C# language section of a Pulumi package schema, as far as
// pulumi-docker-build needs it to compile. See scripts/toolchain/docker-build/README.md.
package codegen

// CSharpPackageInfo is the schema's "language.csharp" object.
type CSharpPackageInfo struct {
	PackageReferences      map[string]string `json:"packageReferences,omitempty"`
	Namespaces             map[string]string `json:"namespaces,omitempty"`
	Compatibility          string            `json:"compatibility,omitempty"`
	DictionaryConstructors bool              `json:"dictionaryConstructors,omitempty"`
	RootNamespace          string            `json:"rootNamespace,omitempty"`
	RespectSchemaVersion   bool              `json:"respectSchemaVersion,omitempty"`
}
