// Stand-in for the codegen types that pulumi-docker-build imports; see ../README.md.
module github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3

go 1.21
