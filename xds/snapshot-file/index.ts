// The snapshot file of `meshd xds serve`: Envoy resources in YAML or JSON (proto3 JSON mapping) →
// a cache Snapshot, with file:line:col and field paths for every problem, and a watcher that keeps
// the cache in step with the file.
export { parseSnapshotText } from './parse-snapshot-text.js';
export type { SnapshotFileContents, ExtraResource } from './parse-snapshot-text.js';
export { loadSnapshotFile } from './load-snapshot-file.js';
export type { LoadedSnapshotFile } from './load-snapshot-file.js';
export { SnapshotFileWatcher, countResources } from './snapshot-file-watcher.js';
export type { SnapshotFileWatcherOptions, SnapshotFileLogger } from './snapshot-file-watcher.js';
export { XdsSnapshotFileError, XDS_SNAPSHOT_FILE_ERROR_CODES } from './errors.js';
export type { XdsSnapshotFileErrorCode, XdsSnapshotFileProblem } from './errors.js';
