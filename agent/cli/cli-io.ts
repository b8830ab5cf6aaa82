// Where the CLI writes. main() takes one of these so tests run commands in-process and read
// what they printed, instead of spawning the binary.

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIo: CliIo = {
  stdout: (text) => {
    ignoreClosedPipe();
    process.stdout.write(text);
  },
  stderr: (text) => {
    process.stderr.write(text);
  },
};

let isPipeGuarded = false;

/** `meshd … | head` closes stdout early; the reader has what it wanted, so that is no error. */
function ignoreClosedPipe(): void {
  if (isPipeGuarded) return;
  isPipeGuarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

/** An io that keeps everything written, for tests. */
export interface CapturedIo extends CliIo {
  readonly out: string;
  readonly err: string;
}

export function captureIo(): CapturedIo {
  let out = '';
  let err = '';
  return {
    stdout: (text) => {
      out += text;
    },
    stderr: (text) => {
      err += text;
    },
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}
