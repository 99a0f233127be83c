// The caller type moved to auth/caller.ts (auth must not depend on services);
// this re-export keeps the CLI and the benches, which this change does not
// touch, compiling until they import auth/caller.ts themselves.
/** See auth/caller.ts. */
export { ROLES, type Caller, type Role } from '../auth/caller.js';
