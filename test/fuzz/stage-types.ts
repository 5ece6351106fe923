/** The shape of a fuzz stage, in its own module so stages in other files do not import the stage list back. */
import type { Qcow2Dev } from '../../src/qcow2';

export interface StageContext {
  bytes: Uint8Array;
  dev: Qcow2Dev;
  /** Set by the check stage: the image has no corruption, so writes must read back and keep it clean. */
  checkedClean: boolean;
}

export interface FuzzStage {
  name: string;
  run(ctx: StageContext): Promise<void>;
}
