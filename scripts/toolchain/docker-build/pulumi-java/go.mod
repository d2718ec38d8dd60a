// Stand-in for the codegen types that pulumi-docker-build imports; see ../README.md.
module github.com/pulumi/pulumi-java

go 1.21
