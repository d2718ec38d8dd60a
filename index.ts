import { releaseProgram } from "./program";

// `pulumi up` runs the default export; scripts/stack.ts runs the same program inline.
export default releaseProgram;
