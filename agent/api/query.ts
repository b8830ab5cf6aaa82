// Handlers read their arguments from the query; a missing one is the client's mistake (400).
import { ApiError } from './errors.js';

export function requireQuery(query: URLSearchParams, name: string, example?: string): string {
  const value = query.get(name);
  if (value === null || value === '') {
    throw new ApiError('MESHD_ERR_API_BAD_REQUEST', `query parameter '${name}' is required`, { hint: example ? `e.g. ?${name}=${example}` : undefined });
  }
  return value;
}
