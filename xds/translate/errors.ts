// Errors of the translation (resolved policy → Envoy resources). Codes are append-only.
import { MeshdError } from '../../policy/index.js';

export const XDS_TRANSLATE_ERROR_CODES = {
  MESHD_ERR_XDS_TRANSLATE_INPUT: 'the translation input is malformed (an address, prefix or proxy port)',
  MESHD_ERR_XDS_TRANSLATE_INVALID_OUTPUT: 'the translation produced resources that fail their own validation',
} as const;

export type XdsTranslateErrorCode = keyof typeof XDS_TRANSLATE_ERROR_CODES;

export class XdsTranslateError extends MeshdError {
  /** For INVALID_OUTPUT: one line per problem, `<type> <name>: <field path>: <message>`. */
  readonly problems: string[];
  constructor(code: XdsTranslateErrorCode, message: string, problems: string[] = []) {
    super(code, message, code === 'MESHD_ERR_XDS_TRANSLATE_INVALID_OUTPUT' ? 'this is a meshd bug: report it with the policy that caused it' : undefined);
    this.name = 'XdsTranslateError';
    this.problems = problems;
  }
}
