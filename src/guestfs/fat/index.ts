/** Placeholder until the FAT reader lands (written on the `fatntfs` branch, which replaces this file). */
import { GuestFsError, type GuestFs, type ReadOnlyDevice } from '../types';

export async function openFat(_dev: ReadOnlyDevice): Promise<GuestFs> {
  throw new GuestFsError('unsupported', 'the FAT reader is not in this build');
}
