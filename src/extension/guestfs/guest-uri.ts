/**
 * qcow2-guest: URIs name a file inside a guest file system:
 *   qcow2-guest://<image id>/<volume>/<path in the file system>
 * The image id is a short hash of the image path (open-images.ts), so host paths (Windows drive letters,
 * backslashes, spaces) never appear in the URI; the volume is a partition number, an LV name, or "disk".
 */
import * as vscode from 'vscode';

export const GUEST_SCHEME = 'qcow2-guest';

export interface GuestLocation {
  imageId: string;
  /** '' for the root, which lists the volumes. */
  volume: string;
  /** Absolute path in the volume's file system ('/' for its root). */
  path: string;
}

export function guestUri(imageId: string, volume = '', path = '/'): vscode.Uri {
  const rest = volume === '' ? '/' : `/${volume}${path === '/' ? '' : path}`;
  return vscode.Uri.from({ scheme: GUEST_SCHEME, authority: imageId, path: rest });
}

export function parseGuestUri(uri: vscode.Uri): GuestLocation {
  const parts = uri.path.split('/').filter(Boolean);
  return { imageId: uri.authority.toLowerCase(), volume: parts[0] ?? '', path: '/' + parts.slice(1).join('/') };
}
