// The version in package.json, read at run time so there is one place to bump it.

import { readFile } from 'node:fs/promises';

// Compiled to dist/agent/cli/, three levels below the package root.
const PACKAGE_JSON = new URL('../../../package.json', import.meta.url);

export async function readPackageVersion(): Promise<string> {
  try {
    const pkg: unknown = JSON.parse(await readFile(PACKAGE_JSON, 'utf8'));
    const version = (pkg as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}
