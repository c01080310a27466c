// The service's own version, read from package.json (src/ and dist/ both sit one level below it).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const SERVICE_VERSION: string = (require('../package.json') as { version: string }).version;
