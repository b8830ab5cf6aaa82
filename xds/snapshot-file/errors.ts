// Errors of the snapshot file loader (`meshd xds serve --snapshot FILE`). Codes are append-only.
// A problem has the same shape as a policy problem (code, message, field path, file:line:col, hint),
// so the CLI prints both the same way: `file:line:col  CODE  path: message`.
import { MeshdError, formatPosition, type SourcePosition } from '../../policy/index.js';

export const XDS_SNAPSHOT_FILE_ERROR_CODES = {
  MESHD_ERR_XDS_SNAPSHOT_FILE_READ: 'the snapshot file could not be read',
  MESHD_ERR_XDS_SNAPSHOT_FILE_SYNTAX: 'the snapshot file is not well-formed YAML or JSON',
  MESHD_ERR_XDS_SNAPSHOT_FILE_SHAPE: 'the snapshot file is well-formed but not laid out as a snapshot (unknown key, missing "@type" or name, duplicate name)',
  MESHD_ERR_XDS_SNAPSHOT_FILE_INCONSISTENT: 'the resources of the snapshot file refer to resources it does not hold, or hold resources nothing refers to',
} as const;

export type XdsSnapshotFileErrorCode = keyof typeof XDS_SNAPSHOT_FILE_ERROR_CODES;

export interface XdsSnapshotFileProblem {
  /** One of XDS_SNAPSHOT_FILE_ERROR_CODES, or a codec code (MESHD_ERR_XDS_UNKNOWN_FIELD, …) for a bad resource. */
  code: string;
  message: string;
  /** Field path inside the document, e.g. `resources[2].filter_chains[0].filters[0].typed_config.bogus`. */
  path: string;
  position: SourcePosition;
  hint?: string;
}

/** A snapshot file that did not load: every problem found, not just the first. */
export class XdsSnapshotFileError extends MeshdError {
  readonly problems: XdsSnapshotFileProblem[];
  constructor(problems: XdsSnapshotFileProblem[]) {
    const first = problems[0];
    super(
      first?.code ?? 'MESHD_ERR_XDS_SNAPSHOT_FILE_SHAPE',
      problems.length === 1 && first
        ? `${formatPosition(first.position)}: ${first.path ? `${first.path}: ` : ''}${first.message}`
        : `${problems.length} problems in ${first?.position.file ?? 'the snapshot file'}`,
      first?.hint,
    );
    this.name = 'XdsSnapshotFileError';
    this.problems = problems;
  }
}

/** One line per problem, `file:line:col  CODE  path: message`, for logs. */
export function describeSnapshotFileProblems(problems: readonly XdsSnapshotFileProblem[]): string {
  return problems.map((p) => `${formatPosition(p.position)}  ${p.code}  ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n');
}
