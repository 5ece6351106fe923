/** Why an engine operation failed. Every failure the engine raises is a Qcow2Error. */
export type Qcow2ErrorCode =
  | 'bad-image' // the file is not a valid qcow2 image, or its metadata is inconsistent
  | 'unsupported' // valid qcow2, but uses a feature this engine refuses (e.g. encryption)
  | 'io' // the operating system failed a read, write or sync
  | 'range' // the caller asked for something outside the image
  | 'read-only' // a write was attempted on an image opened read-only
  | 'backing' // the backing chain cannot be opened (missing, loop, too deep)
  | 'limit' // the image asks for more memory or depth than allowed
  | 'cancelled' // the caller cancelled a long operation
  | 'invalid-argument';

/** The engine's own typed error. Its message is one line naming the file and the reason. */
export class Qcow2Error extends Error {
  override readonly name = 'Qcow2Error';
  readonly reason: string;
  readonly file?: string;
  constructor(
    readonly code: Qcow2ErrorCode,
    reason: string,
    file?: string,
  ) {
    // Reasons and paths can carry strings from the image (names, backing paths): keep the message one line.
    const r = printable(reason, MAX_REASON);
    const f = file === undefined ? undefined : printable(file, MAX_REASON);
    super(f ? `${f}: ${r}` : r);
    this.reason = r;
    this.file = f;
  }
}

const MAX_REASON = 1200;

/** Escapes control characters and caps the length, so text from an image cannot break a message's one line. */
export function printable(s: string, max = 80): string {
  // eslint-disable-next-line no-control-regex
  const escaped = s.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, (c) =>
    c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped;
}

export function badImage(file: string, reason: string): Qcow2Error {
  return new Qcow2Error('bad-image', reason, file);
}

/** Wraps an unknown thrown value (usually a Node system error) into a Qcow2Error. */
export function asQcow2Error(err: unknown, file?: string): Qcow2Error {
  if (err instanceof Qcow2Error) return err;
  const e = err as NodeJS.ErrnoException;
  const reason = e && typeof e.message === 'string' ? oneLine(e.code ? `${e.code}: ${stripPath(e.message)}` : e.message) : String(err);
  return new Qcow2Error('io', reason, file);
}

function oneLine(s: string): string {
  return s.split('\n')[0].trim();
}

/** Node's messages repeat the path ("ENOENT: no such file or directory, open '/x'"); we name the file ourselves. */
function stripPath(msg: string): string {
  return msg.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
}
