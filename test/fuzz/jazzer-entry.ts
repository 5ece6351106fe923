/** Entry point for Jazzer.js (bundled by scripts/fuzz.mjs): one input, one image. */
import { fuzzImage } from './fuzz-image';

export async function fuzz(data: Buffer): Promise<void> {
  await fuzzImage(data);
}
