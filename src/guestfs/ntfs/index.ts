/** Placeholder until the NTFS reader lands (written on the `fatntfs` branch, which replaces this file). */
import { GuestFsError, type GuestFs, type ReadOnlyDevice } from '../types';

export async function openNtfs(_dev: ReadOnlyDevice): Promise<GuestFs> {
  throw new GuestFsError('unsupported', 'the NTFS reader is not in this build');
}
