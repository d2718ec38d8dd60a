import { releaseProgram } from "./program";

// `pulumi up` calls the exported function; scripts/stack.ts runs the same program inline.
export = releaseProgram;
