// Envoy's DataSource (inline string or bytes, a file, an environment variable) read into a string.
// Files are read when the resource is compiled, as Envoy reads them when it loads the config; a
// file that cannot be read is a problem with the field's path (NACK), not a failure later.
import { readFileSync } from 'node:fs';
import type { envoy } from '../../xds/index.js';
import { at, type Problems } from './problems.js';

/** Reads `source`, or records a problem at `path` and returns undefined. `undefined` source → ''. */
export function readDataSource(p: Problems, path: string, source: envoy.DataSource | undefined): string | undefined {
  const s = source?.specifier;
  if (s === undefined || s.case === undefined) return '';
  switch (s.case) {
    case 'inlineString':
      return s.value;
    case 'inlineBytes':
      return Buffer.from(s.value).toString('utf8');
    case 'filename':
      try {
        return readFileSync(s.value, 'utf8');
      } catch (err) {
        p.add(at(path, 'filename'), `cannot read ${s.value}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return undefined;
      }
    case 'environmentVariable': {
      const value = process.env[s.value];
      if (value === undefined) p.add(at(path, 'environment_variable'), `environment variable ${s.value} is not set`);
      return value;
    }
  }
}
