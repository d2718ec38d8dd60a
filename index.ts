import { releaseProgramIn } from "./program";

// `pulumi up` calls the exported function in the project root (the language host starts there,
// as do the providers); scripts/stack.ts runs the same program inline in the stack's work dir.
export = releaseProgramIn(process.cwd());
