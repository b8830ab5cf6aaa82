// `meshd agent --config-dir DIR`: options from a directory with one file per option, named after
// the option's long name, its trimmed content the value (flags: "true" or "false"). This is the
// shape of a Kubernetes ConfigMap mounted as a volume (deploy/kubernetes/configmap.yaml), like
// Cilium's cilium-config. The command line wins over the directory.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from './errors.js';

/** What the reader needs to know of an option (the CLI's OptionSpec has this shape). */
export interface ConfigDirOption {
  name: string;
  /** Present for options that take a value; absent for flags. */
  value?: string;
  choices?: readonly string[];
}

/** One option read from the directory: a value, or for a flag whether it is on. */
export interface ConfigDirEntry {
  name: string;
  value: string | boolean;
  file: string;
}

/** Options that make no sense in the directory: it cannot name itself, and help is no setting. */
const NOT_IN_CONFIG_DIR = new Set(['config-dir', 'help']);

/**
 * Reads every option file of `dir`. Entries whose name starts with `..` are the kubelet's
 * bookkeeping of a ConfigMap volume (`..data`, `..2026_11_21_…`) and are skipped; so are
 * directories. Anything else must be an option of `options`, or the whole directory is refused
 * with MESHD_ERR_AGENT_INVALID_OPTION naming the file: a misspelt key silently ignored would
 * leave the agent running with a default the operator meant to change.
 */
export function readConfigDir(dir: string, options: readonly ConfigDirOption[]): ConfigDirEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new AgentError('MESHD_ERR_AGENT_INVALID_OPTION', `--config-dir ${dir} cannot be read: ${(err as Error).message}`, {
      hint: 'give a directory with one file per option (a ConfigMap mounted as a volume)',
      cause: err,
    });
  }
  const entries: ConfigDirEntry[] = [];
  for (const name of names) {
    if (name.startsWith('..')) continue;
    const file = join(dir, name);
    let text: string;
    try {
      // statSync follows the ConfigMap's symlinks (key -> ..data/key).
      if (statSync(file).isDirectory()) continue;
      text = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new AgentError('MESHD_ERR_AGENT_INVALID_OPTION', `config file ${file} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    const spec = options.find((o) => o.name === name);
    if (!spec || NOT_IN_CONFIG_DIR.has(name)) {
      throw new AgentError('MESHD_ERR_AGENT_INVALID_OPTION', `config file ${file}: meshd agent has no option --${name} that can be set from a file`, {
        hint: `name each file after a long option of \`meshd agent --help\` (without the dashes), or remove ${name}`,
      });
    }
    if (spec.value === undefined) {
      if (text !== 'true' && text !== 'false') {
        throw new AgentError('MESHD_ERR_AGENT_INVALID_OPTION', `config file ${file}: --${name} is a flag; the file must hold true or false, not ${JSON.stringify(text)}`);
      }
      entries.push({ name, value: text === 'true', file });
      continue;
    }
    if (text === '') throw new AgentError('MESHD_ERR_AGENT_INVALID_OPTION', `config file ${file}: --${name} needs a value, the file is empty`);
    if (spec.choices && !spec.choices.includes(text)) {
      throw new AgentError('MESHD_ERR_AGENT_INVALID_OPTION', `config file ${file}: --${name} must be one of ${spec.choices.join(', ')}, not ${JSON.stringify(text)}`);
    }
    entries.push({ name, value: text, file });
  }
  return entries;
}

/**
 * The command line's options with the directory's added where the command line has none (the
 * command line wins). A flag set to false in the directory is simply absent.
 */
export function mergeConfigDir(commandLine: Readonly<Record<string, string | string[] | true>>, entries: readonly ConfigDirEntry[]): Record<string, string | string[] | true> {
  const merged: Record<string, string | string[] | true> = { ...commandLine };
  for (const e of entries) {
    if (merged[e.name] !== undefined) continue;
    if (e.value === true || typeof e.value === 'string') merged[e.name] = e.value;
  }
  return merged;
}
