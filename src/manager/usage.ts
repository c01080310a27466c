// The usage accounting moved to src/usage/usage.ts (below the store, the gateway and the metrics,
// which all use it); this path stays for the benchmarks and tests that import it.
export * from '../usage/usage.js';
