// Reads a request body with a hard size limit, then parses it as JSON. The limit is checked
// against Content-Length before reading and against the bytes as they come, so a client that
// lies about the length (or uses chunked encoding) is cut off at the same point.
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) throw tooLarge(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw tooLarge(limitBytes);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks, size).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError('MESHD_ERR_API_BAD_REQUEST', `the request body is not valid JSON: ${(err as Error).message}`, {
      hint: 'send one JSON value with Content-Type: application/json',
    });
  }
}

function tooLarge(limitBytes: number): ApiError {
  return new ApiError('MESHD_ERR_API_BODY_TOO_LARGE', `the request body is larger than ${limitBytes} bytes (${(limitBytes / 1024 / 1024).toFixed(0)} MiB)`, {
    hint: 'send fewer or smaller documents per request (e.g. apply a large policy directory in several parts)',
  });
}
