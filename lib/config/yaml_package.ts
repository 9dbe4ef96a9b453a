/**
 * The `yaml` package, as tend loads it at run time: from the bundle in
 * `vendor/yaml.js` (built by `tools/bundle_yaml.ts` from the version
 * deno.json pins), not from npm, so that no npm package is loaded and Deno
 * does not set up its npm and Node-compatibility layer for it (about 7 MB
 * of resident memory). The types are the npm package's own: type checking
 * reads them, running does not.
 *
 * Import `yaml` through this module, never `"yaml"` itself, in `lib/`.
 *
 * @module
 */

// @ts-types="yaml"
export * from "./vendor/yaml.js";
