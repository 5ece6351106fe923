/** What counts as a fuzzing finding, and the check that every engine failure is a clean Qcow2Error. */
import { Qcow2Error } from '../../src/qcow2/errors';

/** A bug the fuzzer found: the message says which rule was broken. */
export class FuzzFinding extends Error {
  override readonly name = 'FuzzFinding';
}

/** Checks that a thrown value is an acceptable engine failure; otherwise turns it into a finding. */
export function expectEngineError(err: unknown, stage: string): Qcow2Error {
  if (err instanceof FuzzFinding) throw err;
  if (!(err instanceof Qcow2Error)) {
    const e = err as Error;
    const finding = new FuzzFinding(`${stage}: non-Qcow2Error ${e?.name ?? typeof err}: ${e?.message ?? String(err)}`);
    if (e?.stack) finding.stack = `${finding.name}: ${finding.message}\n${e.stack}`;
    throw finding;
  }
  if (/[\r\n]/.test(err.message)) throw new FuzzFinding(`${stage}: Qcow2Error message spans lines: ${JSON.stringify(err.message)}`);
  if (err.message.length > 2500) throw new FuzzFinding(`${stage}: Qcow2Error message is ${err.message.length} characters long`);
  return err;
}
