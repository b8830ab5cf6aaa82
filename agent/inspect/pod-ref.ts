// `NAMESPACE/NAME` or `NAME` (namespace "default"), as every pod argument of the CLI.
import { InspectError } from './errors.js';

export const DEFAULT_POD_NAMESPACE = 'default';

export function parsePodRef(ref: string): { namespace: string; name: string; id: string } {
  const parts = ref.trim().split('/');
  const [a, b] = parts;
  const ok = (s: string | undefined): s is string => s !== undefined && s !== '';
  if (parts.length === 1 && ok(a)) return { namespace: DEFAULT_POD_NAMESPACE, name: a, id: `${DEFAULT_POD_NAMESPACE}/${a}` };
  if (parts.length === 2 && ok(a) && ok(b)) return { namespace: a, name: b, id: `${a}/${b}` };
  throw new InspectError('MESHD_ERR_INSPECT_BAD_POD_REF', `'${ref}' is not a pod: expected NAMESPACE/NAME or NAME`, 'e.g. empire/deathstar; `meshd pod list` shows the pods');
}
