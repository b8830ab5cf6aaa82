// Options that several command families share, so the spelling and the defaults stay one.
import type { OptionSpec } from '../command-spec.js';

export const OUTPUT: OptionSpec = {
  name: 'output',
  short: 'o',
  value: 'text|json',
  choices: ['text', 'json'],
  default: 'text',
  description: 'output format; json prints the same result as one JSON object',
};

/** Every command that talks to a running agent finds it through its state directory. */
export const STATE_DIR: OptionSpec = {
  name: 'state-dir',
  value: 'DIR',
  description: "the agent's state directory, where its API socket is (default /var/lib/meshd, or $MESHD_STATE_DIR)",
};
