// Errors of the xDS layer. Codes are append-only; callers match on `code` (errors reach the CLI as JSON).
import { MeshdError } from '../../policy/index.js';

export const XDS_CODEC_ERROR_CODES = {
  MESHD_ERR_XDS_UNKNOWN_FIELD: 'a field the Envoy message does not have',
  MESHD_ERR_XDS_UNKNOWN_TYPE_URL: 'an Any whose "@type" names no known message',
  MESHD_ERR_XDS_INVALID_VALUE: 'a value the proto3 JSON mapping does not accept for the field',
  MESHD_ERR_XDS_DECODE: 'bytes that are not a valid encoding of the message',
} as const;

export type XdsCodecErrorCode = keyof typeof XDS_CODEC_ERROR_CODES;

export interface XdsFieldProblem {
  code: XdsCodecErrorCode;
  /** JSON path from the document root, e.g. `$.filter_chains[0].filters[0].typed_config<HttpConnectionManager>.bogus`. */
  path: string;
  message: string;
}

/** Every problem found in one resource, each with its path (not just the first). */
export class XdsCodecError extends MeshdError {
  readonly problems: XdsFieldProblem[];
  constructor(problems: XdsFieldProblem[], where?: string) {
    const first = problems[0]!;
    const head = where ? `${where}: ` : '';
    super(
      first.code,
      problems.length === 1 ? `${head}${first.path}: ${first.message}` : `${head}${problems.length} problems: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    );
    this.name = 'XdsCodecError';
    this.problems = problems;
  }
}
